import { Readable } from "node:stream";
import nodemailer, { type Transporter } from "nodemailer";

/*
 * nodemailer behind one small module: messages are composed (and DKIM-signed) here, then handed
 * to a pool of SMTP connections whose own re-queueing is off (maxRequeues 0): what happens to a
 * message after a failure is the outbox's decision. Each send ends in one of four outcomes:
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

export interface OutgoingMessage {
  from: string;
  to: string;
  replyTo?: string | undefined;
  subject: string;
  html: string;
  text: string;
  /** Without angle brackets. */
  messageId: string;
  /** One-click unsubscribe (RFC 8058): List-Unsubscribe and List-Unsubscribe-Post. */
  unsubscribeUrl?: string | undefined;
  attachments?: { filename: string; content: Buffer; contentType: string }[];
}

export type SendOutcome =
  | { kind: "sent"; response: string }
  | { kind: "temporary"; error: string; response: string | null; throttle: boolean }
  | { kind: "permanent"; error: string; response: string | null; addressError: boolean }
  | { kind: "unknown"; error: string };

export interface DkimOptions {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

export interface TransportOptions {
  url: string;
  poolSize: number;
  timeoutMs: number;
  dkim?: DkimOptions | undefined;
}

export interface MailTransport {
  send(message: OutgoingMessage): Promise<SendOutcome>;
  /** Composes the message as it would be sent (DKIM-signed when configured), for tests and benches. */
  compose(message: OutgoingMessage): Promise<Buffer>;
  close(): void;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
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

function mailOptions(m: OutgoingMessage) {
  return {
    from: m.from,
    to: m.to,
    ...(m.replyTo ? { replyTo: m.replyTo } : {}),
    subject: m.subject,
    html: m.html,
    text: m.text,
    messageId: `<${m.messageId}>`,
    ...(m.unsubscribeUrl
      ? {
          list: { unsubscribe: { url: m.unsubscribeUrl, comment: "Unsubscribe" } },
          headers: { "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" },
        }
      : {}),
    attachments: m.attachments ?? [],
  };
}

const addressOf = (value: string) => value.match(/<([^<>]+)>\s*$/)?.[1] ?? value.trim();

export function createTransport(options: TransportOptions): MailTransport {
  const composer = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "windows",
    ...(options.dkim ? { dkim: options.dkim } : {}),
  });
  const pool: Transporter = nodemailer.createTransport({
    pool: true,
    url: options.url,
    maxConnections: options.poolSize,
    maxMessages: Number.POSITIVE_INFINITY,
    maxRequeues: 0,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    tls: { rejectUnauthorized: !/[?&]tls\.rejectUnauthorized=false/.test(options.url) },
  } as Parameters<typeof nodemailer.createTransport>[0]);

  const compose = async (message: OutgoingMessage): Promise<Buffer> => {
    const info = (await composer.sendMail(mailOptions(message))) as { message: Buffer };
    return info.message;
  };

  return {
    compose,
    async send(message) {
      let raw: Buffer;
      try {
        raw = await compose(message);
      } catch (error) {
        return {
          kind: "permanent",
          error: `the message could not be composed: ${(error as Error).message}`,
          response: null,
          addressError: false,
        };
      }
      // The raw message as a stream the connection reads: once it has been read to the end, the
      // server may have the whole message, and a failure from then on is `unknown`.
      let handedOver = false;
      const stream = Readable.from([raw], { objectMode: false });
      stream.once("end", () => {
        handedOver = true;
      });
      try {
        const info = (await pool.sendMail({
          envelope: { from: addressOf(message.from), to: [message.to] },
          raw: stream,
        })) as { response?: string };
        return { kind: "sent", response: info.response ?? "" };
      } catch (error) {
        return classify(error as SmtpError, handedOver);
      }
    },
    close() {
      pool.close();
      composer.close();
    },
  };
}
