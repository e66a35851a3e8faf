/**
 * Typed errors of the Odoo client. Every error the client throws is an `OdooError`; the subclass says
 * what kind of failure it was and therefore what a caller can do about it:
 *
 * | class                | XML-RPC fault | JSON-2 HTTP | what to do                                   | retried |
 * | -------------------- | ------------- | ----------- | -------------------------------------------- | ------- |
 * | `OdooAuthError`      | 3 / `false`   | 401         | fix ODOO_USERNAME / ODOO_PASSWORD (API key)  | never   |
 * | `OdooAccessError`    | 4             | 403         | grant the user access rights                 | never   |
 * | `OdooUserError`      | 2             | 404, 422    | fix the request (model, field, arguments)    | never   |
 * | `OdooServerError`    | 1             | 500         | read `exceptionClass` / `message`            | never   |
 * | `OdooTransportError` | —             | —           | network, timeout, proxy, non-Odoo answer     | when `retryable` |
 * | `OdooEncodeError`    | —             | —           | a value XML-RPC cannot carry (int ≥ 2³¹ …)   | never   |
 */

export type OdooProtocol = "xmlrpc" | "jsonrpc" | "json2";

export interface OdooErrorDetails {
  /** The protocol that carried the failed request, when one did. */
  protocol?: OdooProtocol | undefined;
  /** `model.method` (or `common.authenticate`) of the failed call. */
  call?: string | undefined;
  /** XML-RPC fault code, when the error came from a fault. */
  faultCode?: number | string | undefined;
  /** HTTP status of the answer, when there was one. */
  status?: number | undefined;
  /** Python exception class reported by Odoo (`ValueError`, `odoo.exceptions.UserError`, …). */
  exceptionClass?: string | undefined;
  /** Full traceback / debug text sent by Odoo, when any. */
  debug?: string | undefined;
  /** Requests sent for the call before it failed, when it was retried or ran out of time. */
  attempts?: number | undefined;
  cause?: unknown;
}

/** Base class of every error the Odoo client throws. */
export class OdooError extends Error {
  readonly protocol: OdooProtocol | undefined;
  readonly call: string | undefined;
  readonly faultCode: number | string | undefined;
  readonly status: number | undefined;
  readonly exceptionClass: string | undefined;
  readonly debug: string | undefined;
  readonly attempts: number | undefined;

  constructor(message: string, details: OdooErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.protocol = details.protocol;
    this.call = details.call;
    this.faultCode = details.faultCode;
    this.status = details.status;
    this.exceptionClass = details.exceptionClass;
    this.debug = details.debug;
    this.attempts = details.attempts;
  }
}

/** Bad credentials: `authenticate` returned false, fault 3 ("Access Denied"), HTTP 401. Never retried. */
export class OdooAuthError extends OdooError {}

/** The user lacks access: fault 4, HTTP 403 (ACLs, record rules, private methods, companies). */
export class OdooAccessError extends OdooError {}

/** User-level error: fault 2, HTTP 404/422 (UserError, ValidationError, MissingError, unknown model). */
export class OdooUserError extends OdooError {}

/**
 * Any other server-side error: fault 1, HTTP 500. `exceptionClass` and `message` come from the last
 * line of the Python traceback (`ValueError: Invalid field 'foo' on model 'res.partner'`); the whole
 * traceback is in `debug`.
 */
export class OdooServerError extends OdooError {}

/**
 * The request did not get an Odoo answer: network error, connection reset, timeout, or an answer
 * that is not XML-RPC/JSON (a proxy's HTML 502 page, a login page, a maintenance page). The message
 * gives the HTTP status and the HTML page title. `retryable` tells whether the client retries it.
 */
export class OdooTransportError extends OdooError {
  readonly retryable: boolean;
  /** Node's error code (`ECONNRESET`, `ECONNREFUSED`, `ETIMEDOUT`, …) when there was one. */
  readonly code: string | undefined;
  constructor(
    message: string,
    details: OdooErrorDetails & { retryable: boolean; code?: string | undefined },
  ) {
    super(message, details);
    this.retryable = details.retryable;
    this.code = details.code;
  }
}

/** A value the request cannot carry (an int ≥ 2³¹ over XML-RPC, a control character, undefined in an array). */
export class OdooEncodeError extends OdooError {}

/**
 * Splits a Python traceback (an XML-RPC fault 1 `faultString`, a JSON `debug`) into the exception
 * class and its message: the first unindented line after the last `  File "…"` frame. A text that is
 * not a traceback is returned as the message with no class.
 */
export function parseTraceback(text: string): { exceptionClass: string | undefined; message: string } {
  const trimmed = text.replace(/\s+$/, "");
  if (!trimmed.includes("Traceback (most recent call last):")) {
    return { exceptionClass: undefined, message: trimmed };
  }
  const lines = trimmed.split("\n");
  let lastFrame = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? "";
    if (line.startsWith("  File ") || line.startsWith("Traceback (most recent call last):")) {
      lastFrame = i;
      break;
    }
  }
  let start = lastFrame + 1;
  while (start < lines.length && /^\s/.test(lines[start] ?? "")) start++;
  const tail = lines.slice(start).join("\n");
  const match = /^([A-Za-z_][\w.]*)(?::[ ]?([\s\S]*))?$/.exec(tail);
  if (!match?.[1]) return { exceptionClass: undefined, message: tail || trimmed };
  return { exceptionClass: stripBuiltins(match[1]), message: (match[2] ?? "").trim() || match[1] };
}

/** `builtins.ValueError` → `ValueError` (what a traceback prints), other qualified names unchanged. */
export const stripBuiltins = (name: string): string =>
  name.startsWith("builtins.") ? name.slice("builtins.".length) : name;

/** Title of an HTML page, whitespace collapsed, or undefined. */
export function htmlTitle(body: string): string | undefined {
  const match = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body);
  if (!match?.[1]) return undefined;
  const title = match[1]
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/\s+/g, " ")
    .trim();
  return title || undefined;
}

/** Maps an XML-RPC fault (code + string) to the typed error, as Odoo's `/xmlrpc/2` assigns codes. */
export function faultToError(
  faultCode: unknown,
  faultString: unknown,
  details: Omit<OdooErrorDetails, "faultCode" | "exceptionClass" | "debug">,
): OdooError {
  const text = typeof faultString === "string" ? faultString : String(faultString);
  const code = typeof faultCode === "number" || typeof faultCode === "string" ? faultCode : undefined;
  const where = details.call ? `${details.call}: ` : "";
  const base = { ...details, faultCode: code };
  switch (code) {
    case 2:
      return new OdooUserError(`${where}${text}`, base);
    case 3:
      return new OdooAuthError(
        `${where}${text || "Access Denied"} (check the username and password or API key)`,
        base,
      );
    case 4:
      return new OdooAccessError(`${where}${text}`, base);
    default: {
      const { exceptionClass, message } = parseTraceback(text);
      const label = exceptionClass ? `${exceptionClass}: ${message}` : message;
      return new OdooServerError(`${where}${label}`, { ...base, exceptionClass, debug: text });
    }
  }
}

/**
 * The forms a secret takes in what a server may echo back: as sent in an XML-RPC body (XML
 * escapes), in a JSON body, in a URL, in a basic-auth header.
 */
function secretForms(secret: string): string[] {
  const forms = new Set([
    secret,
    secret.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"),
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    Buffer.from(secret).toString("base64"),
  ]);
  return [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
}

/** `text` with every form of each secret replaced by `***`. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of secretForms(secret)) if (out.includes(form)) out = out.split(form).join("***");
  }
  return out;
}

/**
 * Removes secrets (the password or API key) from an error the client throws, in place: its message,
 * stack, Odoo's debug text and its causes. A server or a proxy may echo the request it got (the
 * XML-RPC and JSON-RPC bodies carry the password, JSON-2's header the API key) into an error page,
 * a fault string or a traceback; none of that may reach a log or the run history.
 */
export function redactError<T>(error: T, secrets: readonly string[]): T {
  const live = secrets.filter((s) => s.length > 0);
  if (live.length === 0) return error;
  const seen = new Set<unknown>();
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error && !seen.has(current); depth++) {
    seen.add(current);
    const e = current as Error & { debug?: unknown };
    const message = redactText(e.message, live);
    if (message !== e.message) e.message = message;
    if (typeof e.stack === "string") {
      const stack = redactText(e.stack, live);
      if (stack !== e.stack) e.stack = stack;
    }
    if (typeof e.debug === "string") {
      const debug = redactText(e.debug, live);
      if (debug !== e.debug) Object.defineProperty(e, "debug", { value: debug, enumerable: true });
    }
    current = e.cause;
  }
  return error;
}
