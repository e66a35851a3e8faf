import { parseConnectionUrl } from "nodemailer/lib/shared";
import { SmtpClient, type SmtpClientOptions, type SmtpError } from "./smtp-client.js";

export type { SmtpError } from "./smtp-client.js";

/*
 * A fixed number of SMTP connections (smtp-client.ts), each carrying one message at a time. A
 * sender first takes a connection from the pool (waiting, in turn, while all are busy), and only
 * then claims its message: a claimed message goes to the server at once, never into a queue. A
 * connection is opened when first needed, kept for the next message, closed after
 * `idleTimeoutMs` without one or after any failure that may have left it in an unknown state; a
 * message the server refused is followed by RSET on the same connection.
 */

export interface SmtpPoolOptions {
  /** smtp:// or smtps://, with user:password and tls.* parameters when needed. */
  url: string;
  size: number;
  /** To connect, to be greeted, and for each reply. */
  timeoutMs: number;
  /** An unused connection is closed after this long (default 4 minutes: servers wait at least 5). */
  idleTimeoutMs?: number;
}

export type Transfer =
  | { ok: true; response: string }
  /** `handedOver`: the whole message had been handed to the connection when it failed. */
  | { ok: false; error: SmtpError; handedOver: boolean };

export interface PooledConnection {
  /** Sends a composed message to one recipient on this connection. */
  send(raw: Buffer, envelope: { from: string; to: string }): Promise<Transfer>;
  /** Gives the connection back to the pool; call it once, whatever happened. */
  release(): void;
}

export interface SmtpPool {
  readonly size: number;
  /** Resolves with a connection of the pool once one is free; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<PooledConnection>;
  close(): void;
}

interface Lane {
  client: SmtpClient | undefined;
  /** Messages sent on the current connection. */
  sent: number;
  busy: boolean;
  idle: NodeJS.Timeout | undefined;
}

const connectionError = (message: string): SmtpError =>
  Object.assign(new Error(message), { code: "ECONNECTION" });

/** The server closed the connection or it broke: nothing said about the message itself. */
const isConnectionLoss = (e: SmtpError) =>
  e.responseCode === undefined &&
  (e.code === "ECONNECTION" || e.code === "ESOCKET" || e.code === "ETIMEDOUT");

/** Connection settings from an smtp:// or smtps:// URL (user:password, and tls.*, requireTLS, ignoreTLS, name parameters). */
export function smtpClientOptions(url: string, timeoutMs: number): SmtpClientOptions {
  const parsed = parseConnectionUrl(url) as {
    host?: string;
    port?: number;
    secure?: boolean;
    auth?: { user: string; pass: string };
    tls?: Record<string, unknown>;
    ignoreTLS?: boolean;
    requireTLS?: boolean;
    name?: string;
  };
  const secure = parsed.secure === true || (parsed.secure === undefined && parsed.port === 465);
  return {
    host: parsed.host ?? "localhost",
    port: parsed.port ?? (secure ? 465 : 587),
    secure,
    tls: { ...parsed.tls, rejectUnauthorized: !/[?&]tls\.rejectUnauthorized=false/.test(url) },
    ignoreTLS: parsed.ignoreTLS === true,
    requireTLS: parsed.requireTLS === true,
    auth: parsed.auth?.user || parsed.auth?.pass ? parsed.auth : undefined,
    name: typeof parsed.name === "string" ? parsed.name : undefined,
    timeoutMs,
  };
}

export function createSmtpPool(options: SmtpPoolOptions): SmtpPool {
  const clientOptions = smtpClientOptions(options.url, options.timeoutMs);
  const idleTimeoutMs = options.idleTimeoutMs ?? 4 * 60_000;
  const lanes: Lane[] = Array.from({ length: options.size }, () => ({
    client: undefined,
    sent: 0,
    busy: false,
    idle: undefined,
  }));
  const waiting: { grant(lane: Lane): void; fail(error: Error): void }[] = [];
  let closed = false;

  const discard = (lane: Lane) => {
    const client = lane.client;
    lane.client = undefined;
    lane.sent = 0;
    client?.close();
  };

  async function send(lane: Lane, raw: Buffer, envelope: { from: string; to: string }): Promise<Transfer> {
    if (closed) return { ok: false, error: connectionError("the SMTP pool is closed"), handedOver: false };
    if (lane.client && !lane.client.alive) discard(lane); // the server let it go while unused
    const reused = lane.client !== undefined;
    if (!lane.client) {
      try {
        const client = await SmtpClient.connect(clientOptions);
        client.onClose(() => {
          if (lane.client === client && !lane.busy) discard(lane);
        });
        lane.client = client;
        lane.sent = 0;
      } catch (error) {
        return { ok: false, error: error as SmtpError, handedOver: false };
      }
    }
    const client = lane.client;
    try {
      const response = await client.send(envelope, raw);
      lane.sent++;
      return { ok: true, response };
    } catch (thrown) {
      const error = thrown as SmtpError;
      const handedOver = error.handedOver === true;
      if (reused && !handedOver && isConnectionLoss(error)) {
        // the server had let the unused connection go before the message: a new one takes it
        discard(lane);
        return send(lane, raw, envelope);
      }
      if (error.code === "EENVELOPE" || (error.code === "EMESSAGE" && error.responseCode !== 421)) {
        if (client.alive) {
          // the server refused this message; the connection goes on after RSET
          try {
            await client.reset();
          } catch {
            if (lane.client === client) discard(lane);
          }
        } else if (lane.client === client) discard(lane);
      } else if (lane.client === client) {
        discard(lane);
      }
      return { ok: false, error, handedOver };
    }
  }

  const lend = (lane: Lane): PooledConnection => {
    lane.busy = true;
    if (lane.idle) clearTimeout(lane.idle);
    lane.idle = undefined;
    let released = false;
    return {
      send: (raw, envelope) => send(lane, raw, envelope),
      release() {
        if (released) return;
        released = true;
        lane.busy = false;
        if (closed) return discard(lane);
        const next = waiting.shift();
        if (next) return next.grant(lane);
        if (lane.client) {
          lane.idle = setTimeout(() => {
            lane.idle = undefined;
            if (lane.busy || !lane.client) return;
            const client = lane.client;
            lane.client = undefined;
            lane.sent = 0;
            client.quit();
          }, idleTimeoutMs);
          lane.idle.unref();
        }
      },
    };
  };

  return {
    size: options.size,
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (closed) return Promise.reject(connectionError("the SMTP pool is closed"));
      const free = lanes.find((l) => !l.busy);
      if (free) return Promise.resolve(lend(free));
      return new Promise((resolve, reject) => {
        const entry = {
          grant: (lane: Lane) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(lend(lane));
          },
          fail: (error: Error) => {
            signal?.removeEventListener("abort", onAbort);
            reject(error);
          },
        };
        const onAbort = () => {
          const at = waiting.indexOf(entry);
          if (at >= 0) waiting.splice(at, 1);
          reject(signal?.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        waiting.push(entry);
      });
    },
    close() {
      closed = true;
      for (const w of waiting.splice(0)) w.fail(connectionError("the SMTP pool is closed"));
      for (const lane of lanes) {
        if (lane.idle) clearTimeout(lane.idle);
        // a connection carrying a message is dropped when its send ends
        if (lane.busy || !lane.client) continue;
        const client = lane.client;
        lane.client = undefined;
        client.quit();
      }
    },
  };
}
