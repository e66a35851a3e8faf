/**
 * `createOdooClient`: one promise interface over XML-RPC, JSON-RPC and JSON-2, with a lazily
 * obtained uid, a concurrency limit, and retries with exponential backoff and jitter for transport
 * errors only, every attempt of a call and the waits between them within one overall deadline.
 * Every error it throws has the password (API key) removed from its message, stack and debug text.
 */
import {
  OdooAuthError,
  OdooError,
  type OdooProtocol,
  OdooServerError,
  OdooTransportError,
  OdooUserError,
  redactError,
} from "./errors.js";
import { type Attempt, DEFAULT_MAX_RESPONSE_BYTES, HttpClient } from "./http.js";
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
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  error: OdooTransportError;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  delayMs: number;
  call: string;
}

/** What every call accepts besides its own parameters. */
export interface RequestOptions {
  /**
   * Aborts the call: the request in flight is dropped, no further attempt is made, and the call
   * rejects with the signal's reason.
   */
  signal?: AbortSignal | undefined;
  /** Told before each retry of this call (besides the client's `retry.onRetry`). */
  onRetry?: ((info: RetryInfo) => void) | undefined;
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
  /**
   * One overall deadline per call, in ms: its attempts and the waits between them all end within
   * it, counted from its first attempt. Each attempt gets at most what is left (never more than
   * `timeoutMs`); a retry whose wait would pass it is not made. Default 120 000.
   */
  deadlineMs?: number;
  /**
   * Largest answer body accepted, in bytes (default 64 MiB). A larger answer is cut off while it
   * streams (never read whole into memory) and the call fails, naming the model and method.
   */
  maxResponseBytes?: number;
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

export interface SearchOptions extends RequestOptions {
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
  /** `""` returns many2one fields as bare ids instead of `[id, name]` (search_read passes it to read). */
  load?: string;
}

export interface ReadOptions extends RequestOptions {
  context?: OdooContext;
  /** `""` returns many2one fields as bare ids instead of `[id, name]`. */
  load?: string;
}

export interface CallOptions extends RequestOptions {
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
    options?: { context?: OdooContext; limit?: number } & RequestOptions,
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
    options?: { attributes?: readonly string[]; context?: OdooContext } & RequestOptions,
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

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** The request options of a method's options (its own parameters left out). */
const requestOptions = (o: RequestOptions): RequestOptions => ({ signal: o.signal, onRetry: o.onRetry });

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

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
  const deadlineMs = Math.max(1, options.deadlineMs ?? 120_000);
  const secrets: string[] = [options.password];
  const maxConcurrency = Math.max(1, Math.floor(options.maxConcurrency ?? 4));
  const retry =
    options.retry === false ? { ...DEFAULT_RETRY, attempts: 1 } : { ...DEFAULT_RETRY, ...options.retry };
  const sockets = Math.max(
    maxConcurrency,
    options.limiter instanceof SharedLimiter ? options.limiter.max : 0,
  );
  const http = new HttpClient(options.url, timeoutMs, sockets, options.onAnswer, {
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  });
  secrets.push(...http.secrets);
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

  /**
   * Runs one request under the semaphore, retrying retryable transport errors with backoff, every
   * attempt and wait within the call's deadline (counted from the first attempt's start: waiting
   * for a free slot before it is not the server's time). The only retry layer: callers do not
   * retry on top of it.
   */
  async function run<T>(
    call: string,
    idempotent: boolean,
    fn: (attempt: Attempt) => Promise<T>,
    o: RequestOptions = {},
  ): Promise<T> {
    const signal = o.signal;
    let started: number | undefined;
    let last: unknown;
    for (let attempt = 1; ; attempt++) {
      if (closed) throw new OdooError(`${call}: the Odoo client is closed`, { call });
      if (signal?.aborted) throw signal.reason;
      await semaphore.acquire();
      started ??= performance.now();
      const left = deadlineMs - (performance.now() - started);
      let failure: unknown;
      try {
        if (left <= 0) throw deadlinePassed(call, attempt - 1, last);
        return await fn({ timeoutMs: Math.min(timeoutMs, left), signal });
      } catch (error) {
        failure = redactError(error, secrets);
      } finally {
        semaphore.release();
      }
      if (signal?.aborted) throw signal.reason;
      if (failure instanceof OdooTransportError && failure.code === "EDEADLINE") throw failure;
      const retryable = failure instanceof OdooTransportError && failure.retryable && idempotent && !closed;
      if (!retryable) throw failure;
      last = failure;
      const spent = performance.now() - started;
      // (an attempt cut short by the deadline ends a timer's tick around it)
      if (spent >= deadlineMs - 2) throw deadlinePassed(call, attempt, failure);
      if (attempt >= retry.attempts) throw gaveUp(call, attempt, failure as OdooTransportError);
      const delayMs = backoffDelay(attempt, retry.baseDelayMs, retry.maxDelayMs);
      // A wait that would end past the deadline leaves no time for the attempt after it.
      if (spent + delayMs >= deadlineMs) throw deadlinePassed(call, attempt, failure);
      const info = { error: failure as OdooTransportError, attempt, delayMs, call };
      retry.onRetry?.(info);
      o.onRetry?.(info);
      await sleep(delayMs, signal);
    }
  }

  /** The call's deadline passed: how long it was, how many attempts were made, the last failure. */
  function deadlinePassed(call: string, attempts: number, last: unknown): OdooTransportError {
    const lastText = last instanceof Error ? `; the last: ${last.message}` : "";
    return redactError(
      new OdooTransportError(
        `${call}: no answer within the call's deadline of ${deadlineMs} ms (ODOO_CALL_DEADLINE_MS) after ${plural(attempts, "attempt")}${lastText}`,
        {
          protocol: last instanceof OdooError ? last.protocol : undefined,
          call,
          status: last instanceof OdooError ? last.status : undefined,
          retryable: false,
          code: "EDEADLINE",
          attempts,
          cause: last,
        },
      ),
      secrets,
    );
  }

  /** Every attempt failed: the last failure, saying how many there were. */
  function gaveUp(call: string, attempts: number, last: OdooTransportError): OdooTransportError {
    if (attempts <= 1) return last;
    return new OdooTransportError(`${last.message} (gave up after ${attempts} attempts)`, {
      protocol: last.protocol,
      call: last.call ?? call,
      status: last.status,
      retryable: false,
      code: last.code,
      attempts,
      cause: last,
    });
  }

  let transportPromise: Promise<{ transport: Transport; uid?: number }> | undefined;
  let versionCache: OdooVersion | undefined;

  /** Resolves `auto`: JSON-2 when the server offers it and accepts the password as an API key. */
  async function detect(): Promise<{ transport: Transport; uid?: number }> {
    if (requested !== "auto") return { transport: make(requested) };
    const json2 = new Json2Transport(http, creds);
    let version: OdooVersion | undefined;
    try {
      version = await run("web.version", true, (a) => json2.version(a));
    } catch (error) {
      // Before 19 /web/version is not a JSON GET route: a 404 or an HTML page says "no JSON-2 here".
      if (!(error instanceof OdooTransportError) || error.status === undefined) throw error;
    }
    const offersJson2 =
      version !== undefined && (version.major >= 19 || (version.major === 18 && version.minor >= 4));
    if (offersJson2) {
      try {
        const uid = await run("res.users.context_get", true, (a) => json2.authenticate(a));
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
          return await run("common.authenticate", true, (a) => transport.authenticate(a));
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
    return run(`${c.model}.${c.method}`, idempotent, (a) => transport.execute(uid, c, a), callOptions);
  }

  const client: OdooClient = {
    async protocol() {
      return (await resolve()).transport.protocol;
    },
    async version() {
      if (versionCache) return versionCache;
      const { transport } = await resolve();
      const version = await run("version", true, (a) => transport.version(a));
      versionCache = version;
      return version;
    },
    authenticate,
    async searchRead(model, domain, o = {}) {
      return (await call(
        {
          model,
          method: "search_read",
          args: { domain },
          kwargs: { fields: o.fields, offset: o.offset, limit: o.limit, order: o.order, load: o.load },
          context: o.context,
        },
        requestOptions(o),
      )) as OdooRecord[];
    },
    async searchReadPage(model, domain, o = {}) {
      const c: OrmCall = {
        model,
        method: "search_read",
        args: { domain },
        kwargs: { fields: o.fields, offset: o.offset, limit: o.limit, order: o.order, load: o.load },
        context: o.context,
      };
      const uid = await authenticate();
      const { transport } = await resolve();
      if (transport instanceof XmlRpcTransport) {
        return run(`${model}.search_read`, true, (a) => transport.executePage(uid, c, a), requestOptions(o));
      }
      return recordsPage((await call(c, requestOptions(o))) as OdooRecord[]);
    },
    async search(model, domain, o = {}) {
      return (await call(
        {
          model,
          method: "search",
          args: { domain },
          kwargs: { offset: o.offset, limit: o.limit, order: o.order },
          context: o.context,
        },
        requestOptions(o),
      )) as number[];
    },
    async searchCount(model, domain, o = {}) {
      return (await call(
        {
          model,
          method: "search_count",
          args: { domain },
          kwargs: { limit: o.limit },
          context: o.context,
        },
        requestOptions(o),
      )) as number;
    },
    async read(model, ids, fields, o = {}) {
      if (ids.length === 0) return [];
      return (await call(
        {
          model,
          method: "read",
          ids,
          kwargs: { fields, load: o.load },
          context: o.context,
        },
        requestOptions(o),
      )) as OdooRecord[];
    },
    async fieldsGet(model, o = {}) {
      return (await call(
        {
          model,
          method: "fields_get",
          kwargs: { attributes: o.attributes },
          context: o.context,
        },
        requestOptions(o),
      )) as FieldsMeta;
    },
    call,
    async close() {
      closed = true;
      http.close();
    },
  };
  return client;
}
