/**
 * The one place that talks HTTP: keep-alive agents, a deadline per request, the whole body read
 * into a Buffer up to a cap (a larger answer is cut off while it streams, never buffered whole),
 * and network failures turned into `OdooTransportError`s that say what happened. Credentials in
 * the base URL (`https://user:secret@host/`) are sent as HTTP basic authentication and never
 * appear in a message: every message names the URL without them.
 */
import http from "node:http";
import https from "node:https";
import { BufferPool } from "./buffers.js";
import { htmlTitle, type OdooProtocol, OdooTransportError } from "./errors.js";
import type { AnswerSample } from "./limiter.js";

export interface HttpResponse {
  status: number;
  contentType: string;
  body: Buffer;
  /**
   * Requests sent `pooled`: gives the body's buffer back for the next answer. Call once, when
   * nothing reads `body` any more; never called, the buffer is left to the garbage collector.
   */
  release?: () => void;
}

export interface HttpRequest {
  method: "GET" | "POST";
  /** Path relative to the base URL, without a leading slash: `xmlrpc/2/object`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  protocol: OdooProtocol;
  call: string;
  /** Read the answer into a reusable buffer (see `HttpResponse.release`): pages read, decoded, dropped. */
  pooled?: boolean;
  /**
   * This attempt's time limit, when shorter than the client's timeout (what is left of the call's
   * overall deadline). The error then says the deadline cut it short.
   */
  timeoutMs?: number;
  /** Aborts the request: it fails with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** What one attempt of a call may use: its time limit (what is left of the call's deadline), its abort signal. */
export interface Attempt {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Default cap of one answer's body: 64 MiB (a page of 2 000 journal items is about 5 MB). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** `67108864` → `64 MiB`, `1500000` → `1.4 MiB`: byte counts as a person reads them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = value >= 100 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, "");
  return `${text} ${units[unit]}`;
}

/** A URL as messages show it: user name kept, password replaced by `***`. */
export function redactUrlText(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/gi, "$1:***@");
}

/** Network error codes worth retrying: the server may answer on the next attempt. */
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
]);

/** HTTP statuses worth retrying: proxies and load balancers while a worker restarts or times out. */
export const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

export interface HttpClientOptions {
  /** Largest answer body accepted, in bytes (default 64 MiB); a larger one fails while it streams. */
  maxResponseBytes?: number;
}

export class HttpClient {
  /** The base URL, without credentials. */
  readonly base: URL;
  /** `Basic …` when the base URL carried a user name and password, sent with every request. */
  private readonly basicAuth: string | undefined;
  /** The URL's password and its basic-auth token: secrets no message may show. */
  readonly secrets: string[] = [];
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  /** Buffers of `pooled` answers: a few pages in flight at once (read-ahead), reused page after page. */
  readonly bodies = new BufferPool(3);
  readonly maxResponseBytes: number;

  constructor(
    baseUrl: string,
    readonly timeoutMs: number,
    maxSockets: number,
    /** Told of every answer (or failure) with its time: what adapts the concurrency to the server. */
    private readonly onAnswer?: (sample: AnswerSample) => void,
    limits: HttpClientOptions = {},
  ) {
    this.maxResponseBytes = limits.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new OdooTransportError(
        `invalid Odoo URL ${JSON.stringify(redactUrlText(baseUrl))}: expected http(s)://host[:port][/prefix]`,
        {
          retryable: false,
        },
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new OdooTransportError(
        `invalid Odoo URL ${redactUrlText(baseUrl)}: only http:// and https:// are supported`,
        { retryable: false },
      );
    }
    url.search = "";
    url.hash = "";
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      const token = Buffer.from(`${user}:${password}`).toString("base64");
      this.basicAuth = `Basic ${token}`;
      if (password) this.secrets.push(password, token);
      url.username = "";
      url.password = "";
    }
    this.base = url;
    const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" as const };
    if (url.protocol === "https:") {
      this.agent = new https.Agent(options);
      this.request = https.request;
    } else {
      this.agent = new http.Agent(options);
      this.request = http.request;
    }
  }

  /** The base URL without credentials, for messages. */
  get origin(): string {
    return `${this.base.protocol}//${this.base.host}${this.base.pathname}`;
  }

  url(path: string): URL {
    return new URL(path, this.base);
  }

  send(req: HttpRequest): Promise<HttpResponse> {
    const url = this.url(req.path);
    const body =
      req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    const headers: Record<string, string> = { "User-Agent": "finanzas-odoo-client", ...req.headers };
    if (this.basicAuth && !Object.keys(headers).some((h) => h.toLowerCase() === "authorization"))
      headers.Authorization = this.basicAuth;
    if (body !== undefined) headers["Content-Length"] = String(body.length);
    const where = `${req.method} ${url.href}`;
    const started = performance.now();
    const cap = this.maxResponseBytes;
    const limitMs = Math.max(1, Math.ceil(Math.min(this.timeoutMs, req.timeoutMs ?? this.timeoutMs)));
    const cutByDeadline = limitMs < this.timeoutMs;
    const signal = req.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = (error: OdooTransportError | undefined, response?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (this.onAnswer) {
          try {
            this.onAnswer({
              call: req.call,
              ms: performance.now() - started,
              ...(firstByteMs === undefined ? {} : { firstByteMs }),
              bytes: response?.body.length ?? 0,
              status: response?.status ?? error?.status,
              code: error?.code,
            });
          } catch {
            // an observer's failure is not the request's
          }
        }
        if (error) reject(error);
        else resolve(response as HttpResponse);
      };
      /** The answer is over the cap: the connection is dropped, the bytes read so far let go. */
      const tooLarge = (res: http.IncomingMessage, status: number, read: number, declared?: number) => {
        done(
          new OdooTransportError(
            `${req.call}: the answer from ${where} is larger than ODOO_MAX_RESPONSE_BYTES (${formatBytes(cap)}): ` +
              (declared !== undefined
                ? `it declares ${formatBytes(declared)}; `
                : `cut off after ${formatBytes(read)} without reading the rest; `) +
              "ask for smaller pages (ODOO_PAGE_SIZE) or raise ODOO_MAX_RESPONSE_BYTES",
            {
              protocol: req.protocol,
              call: req.call,
              status,
              retryable: false,
              code: "ERESPONSETOOLARGE",
            },
          ),
        );
        res.destroy();
        request.destroy();
      };
      /** From sending to the answer's headers: the server's time, before this thread reads the body. */
      let firstByteMs: number | undefined;
      const request = this.request(url, { method: req.method, headers, agent: this.agent }, (res) => {
        firstByteMs = performance.now() - started;
        const status = res.statusCode ?? 0;
        const contentType = String(res.headers["content-type"] ?? "");
        const declared = Number(res.headers["content-length"]);
        if (Number.isSafeInteger(declared) && declared > cap) {
          tooLarge(res, status, 0, declared);
          return;
        }
        if (req.pooled) {
          // Each chunk copied into one buffer from the pool as it arrives (the chunks die young).
          let buffer: Buffer | undefined = this.bodies.take(
            Number.isSafeInteger(declared) && declared > 0 ? declared : 1 << 20,
          );
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            if (settled || buffer === undefined) return;
            if (size + chunk.length > cap) {
              // Not given back: a buffer grown to the cap is no size for the next page.
              buffer = undefined;
              tooLarge(res, status, size);
              return;
            }
            if (size + chunk.length > buffer.length) {
              const bigger = this.bodies.take(
                Math.min(cap, Math.max(buffer.length * 2, size + chunk.length)),
              );
              buffer.copy(bigger, 0, 0, size);
              // A page-sized buffer goes back for later pages; one outgrown on the way to an
              // answer of tens of MB would only hold memory there.
              if (buffer.length <= 8 << 20) this.bodies.give(buffer);
              buffer = bigger;
            }
            chunk.copy(buffer, size);
            size += chunk.length;
          });
          res.on("end", () => {
            if (buffer === undefined) return;
            let released = false;
            const owned = buffer;
            done(undefined, {
              status,
              contentType,
              body: owned.subarray(0, size),
              release: () => {
                if (released) return;
                released = true;
                this.bodies.give(owned);
              },
            });
          });
        } else {
          let chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            if (settled) return;
            size += chunk.length;
            if (size > cap) {
              chunks = [];
              tooLarge(res, status, size - chunk.length);
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () => {
            done(undefined, {
              status,
              contentType,
              body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
            });
          });
        }
        res.on("error", (error) => done(this.networkError(error, where, req, res.statusCode)));
        res.on("aborted", () =>
          done(
            this.networkError(
              Object.assign(new Error("response aborted"), { code: "ECONNRESET" }),
              where,
              req,
            ),
          ),
        );
      });
      const timer = setTimeout(() => {
        const error = new OdooTransportError(
          cutByDeadline
            ? `${req.call}: no complete answer from ${where} within ${limitMs} ms, what was left of the call's deadline (ODOO_CALL_DEADLINE_MS)`
            : `${req.call}: no complete answer from ${where} within ${this.timeoutMs} ms (timeout); raise ODOO_TIMEOUT_MS or request smaller pages`,
          { protocol: req.protocol, call: req.call, retryable: true, code: "ETIMEDOUT" },
        );
        done(error);
        request.destroy(error);
      }, limitMs);
      request.on("error", (error) => done(this.networkError(error, where, req)));
      request.end(body);
    });
  }

  private networkError(error: Error & { code?: string }, where: string, req: HttpRequest, status?: number) {
    const code = error.code;
    const reason =
      code === "ECONNREFUSED"
        ? "connection refused: is Odoo running at this address?"
        : code === "ENOTFOUND"
          ? "host not found: check ODOO_URL"
          : code === "ECONNRESET"
            ? "connection reset by the server (a worker killed by its time or memory limit, or a proxy)"
            : error.message;
    return new OdooTransportError(
      `${req.call}: ${where} failed${status ? ` (HTTP ${status})` : ""}: ${reason}${code && !reason.includes(code) ? ` [${code}]` : ""}`,
      {
        protocol: req.protocol,
        call: req.call,
        status,
        retryable: code !== undefined && RETRYABLE_CODES.has(code),
        code,
        cause: error,
      },
    );
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * The error for an answer that is not what the protocol speaks (an HTML error page, a login page,
 * plain text): HTTP status, content type and page title, never the body's first tag name.
 */
export function unexpectedAnswer(
  res: HttpResponse,
  req: { protocol: OdooProtocol; call: string },
  where: string,
  expected: string,
): OdooTransportError {
  const text = res.body.subarray(0, 64 * 1024).toString("utf8");
  const title = htmlTitle(text);
  const isHtml = /html/i.test(res.contentType) || /^\s*(<!doctype html|<html)/i.test(text);
  const snippet = title ?? (isHtml ? undefined : text.trim().slice(0, 200).replace(/\s+/g, " "));
  const kind = isHtml ? "an HTML page" : `a ${res.contentType || "body without content type"}`;
  const hint =
    res.status === 404
      ? ": is ODOO_URL the Odoo base URL (with its path prefix, if any)?"
      : res.status >= 300 && res.status < 400
        ? ": the server redirects (use https:// or the final address in ODOO_URL)"
        : "";
  return new OdooTransportError(
    `${req.call}: ${where} answered HTTP ${res.status} with ${kind}${snippet ? ` ("${snippet}")` : ""} instead of ${expected}${hint}`,
    {
      protocol: req.protocol,
      call: req.call,
      status: res.status,
      retryable: RETRYABLE_STATUSES.has(res.status),
    },
  );
}
