/**
 * The one place that talks HTTP: keep-alive agents, a deadline per request, the whole body read
 * into a Buffer, and network failures turned into `OdooTransportError`s that say what happened.
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

export class HttpClient {
  readonly base: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  /** Buffers of `pooled` answers: a few pages in flight at once (read-ahead), reused page after page. */
  readonly bodies = new BufferPool(3);

  constructor(
    baseUrl: string,
    readonly timeoutMs: number,
    maxSockets: number,
    /** Told of every answer (or failure) with its time: what adapts the concurrency to the server. */
    private readonly onAnswer?: (sample: AnswerSample) => void,
  ) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new OdooTransportError(
        `invalid Odoo URL ${JSON.stringify(baseUrl)}: expected http(s)://host[:port][/prefix]`,
        {
          retryable: false,
        },
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new OdooTransportError(`invalid Odoo URL ${baseUrl}: only http:// and https:// are supported`, {
        retryable: false,
      });
    }
    url.search = "";
    url.hash = "";
    if (!url.pathname.endsWith("/")) url.pathname += "/";
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
    if (body !== undefined) headers["Content-Length"] = String(body.length);
    const where = `${req.method} ${url.href}`;
    const started = performance.now();
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const done = (error: OdooTransportError | undefined, response?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.onAnswer) {
          try {
            this.onAnswer({
              call: req.call,
              ms: performance.now() - started,
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
      const request = this.request(url, { method: req.method, headers, agent: this.agent }, (res) => {
        const status = res.statusCode ?? 0;
        const contentType = String(res.headers["content-type"] ?? "");
        if (req.pooled) {
          // Each chunk copied into one buffer from the pool as it arrives (the chunks die young).
          const declared = Number(res.headers["content-length"]);
          let buffer = this.bodies.take(Number.isSafeInteger(declared) && declared > 0 ? declared : 1 << 20);
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            if (size + chunk.length > buffer.length) {
              const bigger = this.bodies.take(Math.max(buffer.length * 2, size + chunk.length));
              buffer.copy(bigger, 0, 0, size);
              this.bodies.give(buffer);
              buffer = bigger;
            }
            chunk.copy(buffer, size);
            size += chunk.length;
          });
          res.on("end", () => {
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
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
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
          `${req.call}: no complete answer from ${where} within ${this.timeoutMs} ms (timeout); raise ODOO_TIMEOUT_MS or request smaller pages`,
          { protocol: req.protocol, call: req.call, retryable: true, code: "ETIMEDOUT" },
        );
        done(error);
        request.destroy(error);
      }, this.timeoutMs);
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
