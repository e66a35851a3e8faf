import { createComposer, type DkimKey, type MessageParts } from "./mime.js";
import { createSmtpPool, type SmtpError } from "./smtp-pool.js";

/*
 * How a message leaves: composed (and DKIM-signed) in one pass (mime.ts), then sent on one of a
 * fixed number of pooled SMTP connections (smtp-pool.ts), which never re-queue or retry a message
 * themselves: what happens to a message after a failure is the outbox's decision. Each send ends
 * in one of four outcomes:
 *
 * - sent: the server answered 2xx to the message's data;
 * - temporary: the server answered 4xx (421 and 454 also ask the whole queue to slow down), or the
 *   connection failed before the message's last byte was handed over (a server cannot accept a
 *   message it has not read to the end), so sending it again cannot make a duplicate;
 * - permanent: 5xx; an address error (enhanced status 5.1.x, or 550/551/553 to RCPT TO) also
 *   suppresses the address;
 * - unknown: the connection failed or timed out after the whole message was handed over and before
 *   the server's reply: it may have been accepted. Never sent again without a person.
 */

export type OutgoingMessage = MessageParts;

export type SendOutcome =
  | { kind: "sent"; response: string }
  | { kind: "temporary"; error: string; response: string | null; throttle: boolean }
  | { kind: "permanent"; error: string; response: string | null; addressError: boolean }
  | { kind: "unknown"; error: string };

export type DkimOptions = DkimKey;

export interface TransportOptions {
  url: string;
  poolSize: number;
  timeoutMs: number;
  dkim?: DkimOptions | undefined;
}

/** One of the pool's connections, lent to one message at a time. */
export interface MailConnection {
  /** Sends a composed message to `to`. */
  send(raw: Buffer, envelope: { from: string; to: string }): Promise<SendOutcome>;
  /** Gives the connection back; call it once, whatever happened. */
  release(): void;
}

export interface MailTransport {
  /** Pooled connections: how many messages may be in flight at once, one per connection. */
  readonly connections: number;
  /** The message as it will be sent (DKIM-signed when configured); throws when it cannot be composed. */
  compose(message: OutgoingMessage): Buffer;
  /** A connection of the pool once one is free; rejects when `signal` aborts first. */
  connection(signal?: AbortSignal): Promise<MailConnection>;
  /** Composes and sends on the next free connection (a message that cannot be composed is a permanent failure). */
  send(message: OutgoingMessage): Promise<SendOutcome>;
  close(): void;
}

/** The outcome of a failed send, given whether the whole message had been handed to the connection. */
export function classify(error: SmtpError, handedOver: boolean): Exclude<SendOutcome, { kind: "sent" }> {
  const code = typeof error.responseCode === "number" ? error.responseCode : undefined;
  const response = typeof error.response === "string" ? error.response : null;
  const text = `${error.message}${error.command ? ` (${error.command})` : ""}`;
  if (code !== undefined && code >= 400 && code < 500) {
    return { kind: "temporary", error: text, response, throttle: code === 421 || code === 454 };
  }
  if (code !== undefined && code >= 500) {
    const enhanced = response?.match(/\b([245])\.(\d{1,3})\.(\d{1,3})\b/);
    const addressError = enhanced
      ? enhanced[1] === "5" && enhanced[2] === "1"
      : /^RCPT/i.test(error.command ?? "") && [550, 551, 553].includes(code);
    return { kind: "permanent", error: text, response, addressError };
  }
  if (error.code === "EENVELOPE" && code === undefined) {
    // refused before any data left (no recipient accepted, bad address syntax)
    return { kind: "permanent", error: text, response, addressError: true };
  }
  if (!handedOver) return { kind: "temporary", error: text, response, throttle: false };
  return { kind: "unknown", error: `${text} after the whole message was handed to the server` };
}

const addressOf = (value: string) => value.match(/<([^<>]+)>\s*$/)?.[1] ?? value.trim();

export function createTransport(options: TransportOptions): MailTransport {
  const composer = createComposer(options.dkim);
  const pool = createSmtpPool({ url: options.url, size: options.poolSize, timeoutMs: options.timeoutMs });

  const connection = async (signal?: AbortSignal): Promise<MailConnection> => {
    const lent = await pool.acquire(signal);
    return {
      async send(raw, envelope) {
        const done = await lent.send(raw, { from: addressOf(envelope.from), to: envelope.to });
        return done.ok ? { kind: "sent", response: done.response } : classify(done.error, done.handedOver);
      },
      release: () => lent.release(),
    };
  };

  return {
    connections: options.poolSize,
    compose: (message) => composer.compose(message),
    connection,
    async send(message) {
      let raw: Buffer;
      try {
        raw = composer.compose(message);
      } catch (error) {
        return {
          kind: "permanent",
          error: `the message could not be composed: ${(error as Error).message}`,
          response: null,
          addressError: false,
        };
      }
      const lent = await connection();
      try {
        return await lent.send(raw, { from: message.from, to: message.to });
      } finally {
        lent.release();
      }
    },
    close() {
      pool.close();
    },
  };
}
