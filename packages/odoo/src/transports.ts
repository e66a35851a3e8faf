/**
 * The three wire protocols behind one interface. A transport turns one logical call into one HTTP
 * request and the answer into a value or a typed error; retries, concurrency and the uid cache
 * live in the client, not here.
 */
import { encodeMethodCall, prepareValue } from "./encode.js";
import {
  faultToError,
  OdooAccessError,
  OdooAuthError,
  type OdooError,
  type OdooProtocol,
  OdooServerError,
  OdooTransportError,
  OdooUserError,
  parseTraceback,
  stripBuiltins,
} from "./errors.js";
import { type Attempt, type HttpClient, type HttpResponse, unexpectedAnswer } from "./http.js";
import {
  decodeMethodResponse,
  decodeRecords,
  looksLikeMethodResponse,
  MAX_NESTING,
  type RecordVisitor,
  XmlRpcParseError,
  type XmlRpcValue,
} from "./xmlrpc-decode.js";

/**
 * A `search_read` answer not yet turned into objects: its records go straight to a visitor
 * (`OdooClient.searchReadPage`).
 */
export interface RecordPage {
  /**
   * The id of the page's last record, found without decoding the page (to ask for the next page
   * early); undefined when it cannot be seen. A hint only: the ids the visitor receives are the truth.
   */
  lastIdHint(): number | undefined;
  /** Hands each record to `visitor`; returns how many there were. Call once. */
  visit(visitor: RecordVisitor): number;
}

/** A page of already decoded records (JSON protocols) as a RecordPage, with the same values. */
export function recordsPage(records: readonly Record<string, unknown>[]): RecordPage {
  return {
    lastIdHint() {
      const id = records.at(-1)?.id;
      return typeof id === "number" ? id : undefined;
    },
    visit(visitor) {
      const { fields } = visitor;
      const idOnly = visitor.idOnly ?? [];
      const values: (XmlRpcValue | undefined)[] = new Array(fields.length);
      for (const record of records) {
        for (let i = 0; i < fields.length; i++) {
          const name = fields[i] as string;
          let value = Object.hasOwn(record, name) ? (record[name] as XmlRpcValue) : undefined;
          if (
            idOnly[i] === true &&
            Array.isArray(value) &&
            value.length === 2 &&
            typeof value[0] === "number" &&
            Number.isInteger(value[0]) &&
            value[0] > 0 &&
            typeof value[1] === "string"
          ) {
            value = value[0];
          }
          values[i] = value;
        }
        visitor.record(values);
      }
      return records.length;
    },
  };
}

export interface Credentials {
  db: string;
  username: string;
  password: string;
}

/** What `version()` reports, whatever the protocol. */
export interface OdooVersion {
  /** `"17.0"`, `"19.0"`, `"saas~18.4"`, `"17.0+e"`, … */
  serverVersion: string;
  /** `[17, 0, 0, "final", 0, ""]` */
  serverVersionInfo: unknown[];
  /** Major version number (17, 18, 19…), 0 when the server did not say. */
  major: number;
  /** Minor version number (0 for a stable release, 4 for saas~18.4). */
  minor: number;
  /** The answer as the server sent it. */
  raw: Record<string, unknown>;
}

/**
 * One ORM call in a protocol-neutral form. `args` are the method's positional parameters by name,
 * in order (XML-RPC/JSON-RPC send their values positionally, JSON-2 by name); `ids` are the records
 * a recordset method runs on.
 */
export interface OrmCall {
  model: string;
  method: string;
  ids?: readonly number[] | undefined;
  args?: Record<string, unknown> | undefined;
  kwargs?: Record<string, unknown> | undefined;
  context?: Record<string, unknown> | undefined;
}

export interface Transport {
  readonly protocol: OdooProtocol;
  version(attempt?: Attempt): Promise<OdooVersion>;
  /** The uid for the credentials; `OdooAuthError` when they are refused. */
  authenticate(attempt?: Attempt): Promise<number>;
  execute(uid: number, call: OrmCall, attempt?: Attempt): Promise<unknown>;
}

const callName = (c: OrmCall): string => `${c.model}.${c.method}`;

function definedEntries(obj: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (obj) for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

/** execute_kw's positional args and kwargs for a call. */
function executeKwParams(c: OrmCall): [unknown[], Record<string, unknown>] {
  const args: unknown[] = c.ids ? [[...c.ids]] : [];
  if (c.args) for (const v of Object.values(c.args)) args.push(v);
  const kwargs = definedEntries(c.kwargs);
  if (c.context) kwargs.context = c.context;
  return [args, kwargs];
}

export function parseVersion(raw: Record<string, unknown>): OdooVersion {
  const serverVersion = String(raw.server_version ?? raw.version ?? "");
  const info = (raw.server_version_info ?? raw.version_info) as unknown;
  const serverVersionInfo = Array.isArray(info) ? info : [];
  let major = typeof serverVersionInfo[0] === "number" ? serverVersionInfo[0] : 0;
  let minor = typeof serverVersionInfo[1] === "number" ? serverVersionInfo[1] : 0;
  const m = /(\d+)\.(\d+)/.exec(serverVersion);
  if (m && (major === 0 || serverVersion.startsWith("saas~"))) {
    major = Number(m[1]);
    minor = Number(m[2]);
  }
  return { serverVersion, serverVersionInfo, major, minor, raw };
}

const authRefused = (protocol: OdooProtocol, creds: Credentials, via: string): OdooAuthError =>
  new OdooAuthError(
    `${via}: Odoo refused the login "${creds.username}" on database "${creds.db}": wrong username or password/API key ` +
      "(after repeated failures Odoo also refuses good credentials for a while: wait before trying again)",
    { protocol, call: via },
  );

/**
 * XML-RPC and JSON-RPC share Odoo's service model: `common.version`, `common.authenticate`, and
 * `object.execute_kw(db, uid, password, model, method, args, kwargs)`; only `rpc` differs.
 */
abstract class ExecuteKwTransport implements Transport {
  abstract readonly protocol: "xmlrpc" | "jsonrpc";

  constructor(
    protected readonly http: HttpClient,
    protected readonly creds: Credentials,
  ) {}

  abstract rpc(
    service: "common" | "object",
    method: string,
    params: unknown[],
    call: string,
    attempt?: Attempt,
  ): Promise<unknown>;

  async version(attempt?: Attempt): Promise<OdooVersion> {
    const raw = await this.rpc("common", "version", [], "common.version", attempt);
    return parseVersion((raw ?? {}) as Record<string, unknown>);
  }

  async authenticate(attempt?: Attempt): Promise<number> {
    const { db, username, password } = this.creds;
    const uid = await this.rpc(
      "common",
      "authenticate",
      [db, username, password, {}],
      "common.authenticate",
      attempt,
    );
    if (typeof uid !== "number" || uid <= 0)
      throw authRefused(this.protocol, this.creds, "common.authenticate");
    return uid;
  }

  execute(uid: number, c: OrmCall, attempt?: Attempt): Promise<unknown> {
    const [args, kwargs] = executeKwParams(c);
    const { db, password } = this.creds;
    return this.rpc(
      "object",
      "execute_kw",
      [db, uid, password, c.model, c.method, args, kwargs],
      callName(c),
      attempt,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// XML-RPC: POST /xmlrpc/2/common and /xmlrpc/2/object
// ---------------------------------------------------------------------------------------------

export class XmlRpcTransport extends ExecuteKwTransport {
  readonly protocol = "xmlrpc" as const;

  constructor(
    http: HttpClient,
    creds: Credentials,
    private readonly decodeOptions: { normalizeNewlines?: boolean } = {},
  ) {
    super(http, creds);
  }

  async rpc(
    service: "common" | "object",
    method: string,
    params: unknown[],
    call: string,
    attempt?: Attempt,
  ): Promise<unknown> {
    const body = encodeMethodCall(method, params, call);
    const path = `xmlrpc/2/${service}`;
    const res = await this.http.send({
      method: "POST",
      path,
      headers: { "Content-Type": "text/xml; charset=utf-8", Accept: "text/xml" },
      body,
      protocol: this.protocol,
      call,
      ...attempt,
    });
    return this.answer(res, call, `POST ${this.http.url(path).href}`);
  }

  /**
   * `execute_kw` of a `search_read`, its answer kept as bytes: checked to be a methodResponse that
   * is not a fault (a fault is thrown as the typed error), decoded only when visited.
   */
  async executePage(uid: number, c: OrmCall, attempt?: Attempt): Promise<RecordPage> {
    const [args, kwargs] = executeKwParams(c);
    const { db, password } = this.creds;
    const call = callName(c);
    const path = "xmlrpc/2/object";
    const res = await this.http.send({
      method: "POST",
      path,
      headers: { "Content-Type": "text/xml; charset=utf-8", Accept: "text/xml" },
      body: encodeMethodCall("execute_kw", [db, uid, password, c.model, c.method, args, kwargs], call),
      protocol: this.protocol,
      call,
      // The answer's buffer is given back once the page is visited, for the next page.
      pooled: true,
      ...attempt,
    });
    const where = `POST ${this.http.url(path).href}`;
    const head = res.body.subarray(0, 512).toString("latin1");
    // A fault (or anything but a methodResponse) goes through the generic path, which throws.
    if (!looksLikeMethodResponse(head) || !/<methodResponse[^>]*>\s*<params[\s>]/i.test(head)) {
      this.answer(res, call, where);
      throw unexpectedAnswer(res, { protocol: this.protocol, call }, where, "XML-RPC");
    }
    const body = res.body;
    const options = this.decodeOptions;
    let visited = false;
    let hint: number | undefined | null = null; // null: not looked for yet
    const lastIdHint = (): number | undefined => {
      if (hint !== null) return hint;
      const at = body.lastIndexOf("<name>id</name>");
      const m =
        at < 0
          ? null
          : /^<name>id<\/name>\s*<value>\s*<int>(\d{1,15})<\/int>/.exec(body.toString("latin1", at, at + 64));
      hint = m ? Number(m[1]) : undefined;
      return hint;
    };
    return {
      lastIdHint,
      visit: (visitor) => {
        if (visited) throw new Error(`${call}: a record page is visited once`);
        visited = true;
        try {
          return decodeRecords(body, visitor, options);
        } catch (error) {
          if (!(error instanceof XmlRpcParseError)) throw error;
          throw new OdooTransportError(
            `${call}: ${where} answered HTTP ${res.status} with ${error.message}`,
            {
              protocol: this.protocol,
              call,
              status: res.status,
              retryable: false,
              cause: error,
            },
          );
        } finally {
          // Decoded values are strings of their own: nothing refers to the answer's bytes now
          // (the hint is kept: the buffer may hold the next answer by the time it is asked for).
          lastIdHint();
          res.release?.();
        }
      },
    };
  }

  private answer(res: HttpResponse, call: string, where: string): unknown {
    const head = res.body.subarray(0, 512).toString("latin1");
    if (!looksLikeMethodResponse(head))
      throw unexpectedAnswer(res, { protocol: this.protocol, call }, where, "XML-RPC");
    let decoded: ReturnType<typeof decodeMethodResponse>;
    try {
      decoded = decodeMethodResponse(res.body, this.decodeOptions);
    } catch (error) {
      if (!(error instanceof XmlRpcParseError)) throw error;
      throw new OdooTransportError(`${call}: ${where} answered HTTP ${res.status} with ${error.message}`, {
        protocol: this.protocol,
        call,
        status: res.status,
        retryable: false,
        cause: error,
      });
    }
    if (decoded.fault) {
      throw faultToError(decoded.faultCode, decoded.faultString, {
        protocol: this.protocol,
        call,
        status: res.status,
      });
    }
    return decoded.value;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC: POST /jsonrpc {"method":"call","params":{"service","method","args"}}
// ---------------------------------------------------------------------------------------------

interface JsonRpcErrorBody {
  code?: number;
  message?: string;
  data?: { name?: string; message?: string; debug?: string; arguments?: unknown[] };
}

const USER_ERRORS = new Set([
  "odoo.exceptions.UserError",
  "odoo.exceptions.ValidationError",
  "odoo.exceptions.MissingError",
  "odoo.exceptions.RedirectWarning",
  "odoo.exceptions.except_orm",
  "odoo.exceptions.Warning",
  "odoo.exceptions.CacheMiss",
]);

/** Maps a Python exception class name (as JSON-RPC reports it) to the typed error. */
function errorByName(
  name: string | undefined,
  message: string,
  details: { protocol: OdooProtocol; call: string; status?: number; debug?: string },
): OdooError {
  const where = `${details.call}: `;
  if (name === "odoo.exceptions.AccessDenied") {
    return new OdooAuthError(
      `${where}${message || "Access Denied"} (check the username and password or API key)`,
      {
        ...details,
        exceptionClass: name,
      },
    );
  }
  if (name === "odoo.exceptions.AccessError")
    return new OdooAccessError(`${where}${message}`, { ...details, exceptionClass: name });
  if (name && USER_ERRORS.has(name))
    return new OdooUserError(`${where}${message}`, { ...details, exceptionClass: name });
  const exceptionClass = name
    ? stripBuiltins(name)
    : details.debug
      ? parseTraceback(details.debug).exceptionClass
      : undefined;
  return new OdooServerError(`${where}${exceptionClass ? `${exceptionClass}: ` : ""}${message}`, {
    ...details,
    exceptionClass,
  });
}

/**
 * Arrays and objects nested deeper than `max` in a parsed JSON value, found without recursion; the
 * depth reached, or 0 when within the limit.
 */
export function jsonNestingOver(value: unknown, max: number): number {
  if (value === null || typeof value !== "object") return 0;
  const stack: unknown[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const item = stack.pop() as object;
    const depth = depths.pop() as number;
    if (depth > max) return depth;
    const children = Array.isArray(item) ? item : Object.values(item);
    for (const child of children) {
      if (child !== null && typeof child === "object") {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return 0;
}

/**
 * The answer's JSON (invalid UTF-8 decoded as U+FFFD, like the XML-RPC decoder), or not-JSON. An
 * answer nested deeper than MAX_NESTING levels is an error of its own: V8's parser reads it, but
 * what handles the value afterwards (copies between threads, logs, JSON columns) recurses.
 */
function parseJson(
  res: HttpResponse,
  req: { protocol: OdooProtocol; call: string; where: string },
): { ok: true; value: unknown } | { ok: false } {
  const first = res.body.subarray(0, 64).toString("latin1").trimStart()[0];
  if (first === undefined || first === "<") return { ok: false };
  let value: unknown;
  try {
    value = JSON.parse(res.body.toString("utf8"));
  } catch {
    return { ok: false };
  }
  if (jsonNestingOver(value, MAX_NESTING) > 0) {
    throw new OdooTransportError(
      `${req.call}: ${req.where} answered HTTP ${res.status} with invalid JSON: value nested deeper than ${MAX_NESTING} levels`,
      { protocol: req.protocol, call: req.call, status: res.status, retryable: false },
    );
  }
  return { ok: true, value };
}

export class JsonRpcTransport extends ExecuteKwTransport {
  readonly protocol = "jsonrpc" as const;
  private id = 0;

  async rpc(
    service: "common" | "object",
    method: string,
    args: unknown[],
    call: string,
    attempt?: Attempt,
  ): Promise<unknown> {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      method: "call",
      params: { service, method, args: prepareValue(args, false, call) },
      id: ++this.id,
    });
    const res = await this.http.send({
      method: "POST",
      path: "jsonrpc",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body,
      protocol: this.protocol,
      call,
      ...attempt,
    });
    const where = `POST ${this.http.url("jsonrpc").href}`;
    const parsed = parseJson(res, { protocol: this.protocol, call, where });
    const answer = parsed.ok ? (parsed.value as { result?: unknown; error?: JsonRpcErrorBody }) : undefined;
    if (!answer || typeof answer !== "object" || (!("result" in answer) && !("error" in answer))) {
      throw unexpectedAnswer(res, { protocol: this.protocol, call }, where, "a JSON-RPC answer");
    }
    if (answer.error) {
      const e = answer.error;
      const details = { protocol: this.protocol, call, status: res.status, debug: e.data?.debug };
      if (e.code === 100) throw new OdooAuthError(`${call}: ${e.message ?? "session expired"}`, details);
      throw errorByName(e.data?.name, e.data?.message ?? e.message ?? "unknown error", details);
    }
    return answer.result;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON-2 (Odoo 19+): POST /json/2/<model>/<method>, bearer API key, named parameters
// ---------------------------------------------------------------------------------------------

export class Json2Transport implements Transport {
  readonly protocol = "json2" as const;

  constructor(
    private readonly http: HttpClient,
    private readonly creds: Credentials,
  ) {}

  async post(
    model: string,
    method: string,
    body: Record<string, unknown>,
    call: string,
    attempt?: Attempt,
  ): Promise<unknown> {
    const path = `json/2/${encodeURIComponent(model)}/${encodeURIComponent(method)}`;
    const headers: Record<string, string> = {
      "Content-Type": "application/json; charset=utf-8",
      Accept: "application/json",
      Authorization: `bearer ${this.creds.password}`,
    };
    if (this.creds.db) headers["X-Odoo-Database"] = this.creds.db;
    const res = await this.http.send({
      method: "POST",
      path,
      headers,
      body: JSON.stringify(prepareValue(body, false, call)),
      protocol: this.protocol,
      call,
      ...attempt,
    });
    const where = `POST ${this.http.url(path).href}`;
    const parsed = parseJson(res, { protocol: this.protocol, call, where });
    if (res.status >= 200 && res.status < 300) {
      if (!parsed.ok) throw unexpectedAnswer(res, { protocol: this.protocol, call }, where, "JSON");
      return parsed.value;
    }
    if (!parsed.ok) {
      if (res.status === 401) {
        throw new OdooAuthError(`${call}: ${where} answered HTTP 401: the API key was refused`, {
          protocol: this.protocol,
          call,
          status: 401,
        });
      }
      throw unexpectedAnswer(res, { protocol: this.protocol, call }, where, "JSON");
    }
    throw json2Error(res.status, parsed.value, { protocol: this.protocol, call });
  }

  async version(attempt?: Attempt): Promise<OdooVersion> {
    const call = "web.version";
    const res = await this.http.send({
      method: "GET",
      path: "web/version",
      protocol: this.protocol,
      call,
      ...attempt,
    });
    const parsed = parseJson(res, {
      protocol: this.protocol,
      call,
      where: `GET ${this.http.url("web/version").href}`,
    });
    if (res.status !== 200 || !parsed.ok || typeof parsed.value !== "object" || parsed.value === null) {
      throw unexpectedAnswer(
        res,
        { protocol: this.protocol, call },
        `GET ${this.http.url("web/version").href}`,
        "JSON",
      );
    }
    return parseVersion(parsed.value as Record<string, unknown>);
  }

  /**
   * JSON-2 has no login: the API key is checked on every request. `res.users.context_get` is
   * callable by every user and, since Odoo 19, its answer includes `uid`; the call both validates
   * the key (401 otherwise) and tells whose it is. Where it is missing or has no uid, the user with
   * login ODOO_USERNAME is looked up instead.
   */
  async authenticate(attempt?: Attempt): Promise<number> {
    let context: unknown;
    try {
      context = await this.post("res.users", "context_get", {}, "res.users.context_get", attempt);
    } catch (error) {
      // a server without context_get still validates the key on the search below
      if (!(error instanceof OdooUserError)) throw error;
    }
    const uid = (context as { uid?: unknown } | null | undefined)?.uid;
    if (typeof uid === "number" && uid > 0) return uid;
    const ids = await this.post(
      "res.users",
      "search",
      { domain: [["login", "=", this.creds.username]], limit: 1 },
      "res.users.search",
      attempt,
    );
    const first = Array.isArray(ids) ? ids[0] : undefined;
    if (typeof first === "number") return first;
    throw new OdooAuthError(
      `res.users.search: the API key works but no user has the login "${this.creds.username}": check ODOO_USERNAME`,
      { protocol: this.protocol, call: "res.users.search" },
    );
  }

  execute(_uid: number, c: OrmCall, attempt?: Attempt): Promise<unknown> {
    const body: Record<string, unknown> = {};
    if (c.ids) body.ids = [...c.ids];
    Object.assign(body, definedEntries(c.args), definedEntries(c.kwargs));
    if (c.context) body.context = c.context;
    return this.post(c.model, c.method, body, callName(c), attempt);
  }
}

/** A JSON-2 error answer (`{name, message, arguments, context, debug}` or a bare string) as a typed error. */
export function json2Error(
  status: number,
  body: unknown,
  base: { protocol: OdooProtocol; call: string },
): OdooError {
  const obj = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : undefined;
  const message =
    typeof body === "string"
      ? body
      : typeof obj?.message === "string"
        ? obj.message
        : JSON.stringify(body).slice(0, 500);
  const name = typeof obj?.name === "string" ? obj.name : undefined;
  const debug = typeof obj?.debug === "string" ? obj.debug : undefined;
  const details = { ...base, status, debug, exceptionClass: name ? stripBuiltins(name) : undefined };
  const where = `${base.call}: HTTP ${status}: `;
  if (status === 401)
    return new OdooAuthError(`${where}${message} (check the API key in ODOO_PASSWORD)`, details);
  if (status === 403) return new OdooAccessError(`${where}${message}`, details);
  if (status === 400 || status === 404 || status === 409 || status === 422)
    return new OdooUserError(`${where}${message}`, details);
  if (RETRYABLE_JSON_STATUSES.has(status)) {
    return new OdooTransportError(`${where}${message}`, { ...details, retryable: true });
  }
  return new OdooServerError(
    `${where}${details.exceptionClass ? `${details.exceptionClass}: ` : ""}${message}`,
    details,
  );
}

/** Statuses that mean "try again later" even when the body is JSON. */
const RETRYABLE_JSON_STATUSES = new Set([408, 429, 502, 503, 504]);
