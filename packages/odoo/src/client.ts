/**
 * `createOdooClient`: one promise interface over XML-RPC, JSON-RPC and JSON-2, with a lazily
 * obtained uid, a concurrency limit, and retries with exponential backoff and jitter for transport
 * errors only.
 */
import {
  OdooAuthError,
  OdooError,
  type OdooProtocol,
  OdooServerError,
  OdooTransportError,
  OdooUserError,
} from "./errors.js";
import { HttpClient } from "./http.js";
import { type AnswerSample, type RequestLimiter, SharedLimiter } from "./limiter.js";
import {
  type Credentials,
  Json2Transport,
  JsonRpcTransport,
  type OdooVersion,
  type OrmCall,
  type RecordPage,
  recordsPage,
  type Transport,
  XmlRpcTransport,
} from "./transports.js";

export type { OdooVersion, OrmCall, RecordPage };

export interface RetryOptions {
  /** Total attempts per request, the first included. Default 4; 1 disables retries. */
  attempts?: number;
  /** Delay before the first retry, doubled for each next one. Default 250 ms. */
  baseDelayMs?: number;
  /** Upper bound of one delay. Default 10 000 ms. */
  maxDelayMs?: number;
  /** Called before each retry (for logging). */
  onRetry?: (info: { error: OdooTransportError; attempt: number; delayMs: number; call: string }) => void;
}

export interface OdooClientOptions {
  /** Base URL, with a path prefix if Odoo is served under one: `https://erp.example.com/odoo/`. */
  url: string;
  db: string;
  username: string;
  /** Password, or API key (required for json2; accepted by xmlrpc/jsonrpc in place of the password). */
  password: string;
  /**
   * `auto` (default): JSON-2 when the server is Odoo 19+ (or saas~18.4+) and accepts the password
   * as an API key, otherwise XML-RPC. XML-RPC over JSON-RPC because it is Odoo's documented
   * external API on every version from 8 to 21 (JSON-RPC on `/jsonrpc` is the web client's
   * protocol, undocumented for integrations), and the fast decoder makes it as cheap to read.
   */
  protocol?: OdooProtocol | "auto";
  /** Deadline of one HTTP request, in ms. Default 120 000 (Odoo's own default wall-time limit). */
  timeoutMs?: number;
  /** Requests in flight at once for this client. Default 4 (1–4 per database is polite). */
  maxConcurrency?: number;
  /**
   * Requests in flight at once, shared with other clients (other threads: `SharedLimiter`), in place
   * of this client's own `maxConcurrency`. Held for each attempt, not during the backoff between them.
   */
  limiter?: RequestLimiter;
  /** Told of every answer (or failure) with its HTTP time, e.g. `AdaptiveConcurrency.observe`. */
  onAnswer?: (sample: AnswerSample) => void;
  /** Retry policy for transport errors, or `false` to disable retries. */
  retry?: RetryOptions | false;
  /** XML-RPC only: `\r\n`/`\r` in strings → `\n` like CPython's client (default false: kept as stored). */
  normalizeNewlines?: boolean;
}

export type DomainTerm = "&" | "|" | "!" | readonly [string, string, unknown];
export type Domain = readonly DomainTerm[];
export type OdooContext = Record<string, unknown>;
export type OdooRecord = { id: number } & Record<string, unknown>;

export interface FieldMeta {
  type: string;
  string?: string;
  store?: boolean;
  relation?: string;
  required?: boolean;
  readonly?: boolean;
  selection?: [string, string][] | false;
  [attribute: string]: unknown;
}
export type FieldsMeta = Record<string, FieldMeta>;

export interface SearchOptions {
  offset?: number;
  /** Maximum number of records; omitted or 0 means no limit. */
  limit?: number;
  /** `"write_date asc, id asc"` */
  order?: string;
  context?: OdooContext;
}

export interface SearchReadOptions extends SearchOptions {
  /** Always pass an explicit list of stored fields: asking for all fields faults on finance models. */
  fields?: readonly string[];
}

export interface ReadOptions {
  context?: OdooContext;
  /** `""` returns many2one fields as bare ids instead of `[id, name]`. */
  load?: string;
}

export interface CallOptions {
  /** Retry transport errors for this call (default: true for read-only methods, false otherwise). */
  idempotent?: boolean;
}

export interface OdooClient {
  /** The protocol in use (resolving `auto` on first use). */
  protocol(): Promise<OdooProtocol>;
  /** Server version (no authentication needed). */
  version(): Promise<OdooVersion>;
  /** The uid for the credentials, obtained once and reused; `OdooAuthError` if refused (never retried). */
  authenticate(): Promise<number>;
  searchRead(model: string, domain: Domain, options?: SearchReadOptions): Promise<OdooRecord[]>;
  /**
   * `searchRead` whose records are handed to a visitor one by one instead of returned as objects:
   * over XML-RPC they are decoded straight from the answer's text when visited (no object per
   * record, many2one names stepped over); over JSON they are visited from the parsed objects.
   * Retried like `searchRead`; a malformed answer fails at `visit` with OdooTransportError.
   */
  searchReadPage(model: string, domain: Domain, options?: SearchReadOptions): Promise<RecordPage>;
  search(model: string, domain: Domain, options?: SearchOptions): Promise<number[]>;
  searchCount(
    model: string,
    domain: Domain,
    options?: { context?: OdooContext; limit?: number },
  ): Promise<number>;
  /** Records for `ids`, in Odoo's order; ids that no longer exist are silently dropped (as Odoo does). */
  read(
    model: string,
    ids: readonly number[],
    fields?: readonly string[],
    options?: ReadOptions,
  ): Promise<OdooRecord[]>;
  fieldsGet(
    model: string,
    options?: { attributes?: readonly string[]; context?: OdooContext },
  ): Promise<FieldsMeta>;
  /** Any other ORM method, in protocol-neutral form (see `OrmCall`). */
  call(call: OrmCall, options?: CallOptions): Promise<unknown>;
  /** Closes the keep-alive connections; later calls fail. */
  close(): Promise<void>;
}

/** Methods that read only: safe to retry after a transport error. */
const READ_ONLY = new Set([
  "search",
  "search_read",
  "search_count",
  "read",
  "fields_get",
  "name_search",
  "read_group",
  "check_access_rights",
  "has_access",
  "context_get",
  "default_get",
  "web_search_read",
  "web_read",
]);

const DEFAULT_RETRY = { attempts: 4, baseDelayMs: 250, maxDelayMs: 10_000 };

/** A counting semaphore: at most `size` holders at once, FIFO. */
class Semaphore implements RequestLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.size) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Delay before retry number `retry` (1-based): exponential, capped, with "equal jitter" (half fixed, half random). */
export function backoffDelay(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

function databaseMissing(error: unknown, db: string, url: string): OdooError | undefined {
  if (!(error instanceof OdooServerError) && !(error instanceof OdooUserError)) return undefined;
  const text = `${error.message}\n${error.debug ?? ""}`;
  if (!/database "?[^"\s]*"? does not exist|database not found/im.test(text)) return undefined;
  return new OdooAuthError(
    `database "${db}" does not exist on ${url} (or is not served by this Odoo): check ODOO_DB (${error.message})`,
    {
      protocol: error.protocol,
      call: error.call,
      faultCode: error.faultCode,
      status: error.status,
      exceptionClass: error.exceptionClass,
      debug: error.debug,
      cause: error,
    },
  );
}

export function createOdooClient(options: OdooClientOptions): OdooClient {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxConcurrency = Math.max(1, Math.floor(options.maxConcurrency ?? 4));
  const retry =
    options.retry === false ? { ...DEFAULT_RETRY, attempts: 1 } : { ...DEFAULT_RETRY, ...options.retry };
  const sockets = Math.max(
    maxConcurrency,
    options.limiter instanceof SharedLimiter ? options.limiter.max : 0,
  );
  const http = new HttpClient(options.url, timeoutMs, sockets, options.onAnswer);
  const creds: Credentials = { db: options.db, username: options.username, password: options.password };
  const semaphore: RequestLimiter = options.limiter ?? new Semaphore(maxConcurrency);
  const requested = options.protocol ?? "auto";
  let closed = false;

  const make = (protocol: OdooProtocol): Transport =>
    protocol === "xmlrpc"
      ? new XmlRpcTransport(http, creds, { normalizeNewlines: options.normalizeNewlines === true })
      : protocol === "jsonrpc"
        ? new JsonRpcTransport(http, creds)
        : new Json2Transport(http, creds);

  /** Runs one request under the semaphore, retrying retryable transport errors with backoff. */
  async function run<T>(call: string, idempotent: boolean, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (closed) throw new OdooError(`${call}: the Odoo client is closed`, { call });
      await semaphore.acquire();
      let failure: unknown;
      try {
        return await fn();
      } catch (error) {
        failure = error;
      } finally {
        semaphore.release();
      }
      const retryable =
        failure instanceof OdooTransportError &&
        failure.retryable &&
        idempotent &&
        attempt < retry.attempts &&
        !closed;
      if (!retryable) throw failure;
      const delayMs = backoffDelay(attempt, retry.baseDelayMs, retry.maxDelayMs);
      retry.onRetry?.({ error: failure as OdooTransportError, attempt, delayMs, call });
      await sleep(delayMs);
    }
  }

  let transportPromise: Promise<{ transport: Transport; uid?: number }> | undefined;
  let versionCache: OdooVersion | undefined;

  /** Resolves `auto`: JSON-2 when the server offers it and accepts the password as an API key. */
  async function detect(): Promise<{ transport: Transport; uid?: number }> {
    if (requested !== "auto") return { transport: make(requested) };
    const json2 = new Json2Transport(http, creds);
    let version: OdooVersion | undefined;
    try {
      version = await run("web.version", true, () => json2.version());
    } catch (error) {
      // Before 19 /web/version is not a JSON GET route: a 404 or an HTML page says "no JSON-2 here".
      if (!(error instanceof OdooTransportError) || error.status === undefined) throw error;
    }
    const offersJson2 =
      version !== undefined && (version.major >= 19 || (version.major === 18 && version.minor >= 4));
    if (offersJson2) {
      try {
        const uid = await run("res.users.context_get", true, () => json2.authenticate());
        versionCache = version;
        return { transport: json2, uid };
      } catch (error) {
        // 401: the password is not an API key (XML-RPC accepts passwords); 404/HTML: /json/2 is
        // blocked; a user error: this server cannot say whose key it is over JSON-2 (no
        // res.users.context_get and no res.users to search), which XML-RPC's login does.
        if (
          !(error instanceof OdooAuthError) &&
          !(error instanceof OdooUserError) &&
          !(error instanceof OdooTransportError && error.status !== undefined)
        ) {
          throw error;
        }
      }
    }
    return { transport: make("xmlrpc") };
  }

  const resolve = (): Promise<{ transport: Transport; uid?: number }> => {
    if (!transportPromise) {
      transportPromise = detect().catch((error: unknown) => {
        transportPromise = undefined; // a network failure during detection may be retried by a later call
        throw error;
      });
    }
    return transportPromise;
  };

  let uidPromise: Promise<number> | undefined;
  function authenticate(): Promise<number> {
    if (!uidPromise) {
      uidPromise = (async () => {
        const { transport, uid } = await resolve();
        if (uid !== undefined) return uid;
        try {
          return await run("common.authenticate", true, () => transport.authenticate());
        } catch (error) {
          throw databaseMissing(error, creds.db, http.origin) ?? error;
        }
      })().catch((error: unknown) => {
        // A refused login is remembered: asking again would only count as another failed login.
        if (!(error instanceof OdooAuthError)) uidPromise = undefined;
        throw error;
      });
    }
    return uidPromise;
  }

  async function call(c: OrmCall, callOptions: CallOptions = {}): Promise<unknown> {
    const uid = await authenticate();
    const { transport } = await resolve();
    const idempotent = callOptions.idempotent ?? READ_ONLY.has(c.method);
    return run(`${c.model}.${c.method}`, idempotent, () => transport.execute(uid, c));
  }

  const client: OdooClient = {
    async protocol() {
      return (await resolve()).transport.protocol;
    },
    async version() {
      if (versionCache) return versionCache;
      const { transport } = await resolve();
      const version = await run("version", true, () => transport.version());
      versionCache = version;
      return version;
    },
    authenticate,
    async searchRead(model, domain, o = {}) {
      return (await call({
        model,
        method: "search_read",
        args: { domain },
        kwargs: { fields: o.fields, offset: o.offset, limit: o.limit, order: o.order },
        context: o.context,
      })) as OdooRecord[];
    },
    async searchReadPage(model, domain, o = {}) {
      const c: OrmCall = {
        model,
        method: "search_read",
        args: { domain },
        kwargs: { fields: o.fields, offset: o.offset, limit: o.limit, order: o.order },
        context: o.context,
      };
      const uid = await authenticate();
      const { transport } = await resolve();
      if (transport instanceof XmlRpcTransport) {
        return run(`${model}.search_read`, true, () => transport.executePage(uid, c));
      }
      return recordsPage((await call(c)) as OdooRecord[]);
    },
    async search(model, domain, o = {}) {
      return (await call({
        model,
        method: "search",
        args: { domain },
        kwargs: { offset: o.offset, limit: o.limit, order: o.order },
        context: o.context,
      })) as number[];
    },
    async searchCount(model, domain, o = {}) {
      return (await call({
        model,
        method: "search_count",
        args: { domain },
        kwargs: { limit: o.limit },
        context: o.context,
      })) as number;
    },
    async read(model, ids, fields, o = {}) {
      if (ids.length === 0) return [];
      return (await call({
        model,
        method: "read",
        ids,
        kwargs: { fields, load: o.load },
        context: o.context,
      })) as OdooRecord[];
    },
    async fieldsGet(model, o = {}) {
      return (await call({
        model,
        method: "fields_get",
        kwargs: { attributes: o.attributes },
        context: o.context,
      })) as FieldsMeta;
    },
    call,
    async close() {
      closed = true;
      http.close();
    },
  };
  return client;
}
