/**
 * Python value model used for everything the simulator answers. Odoo is written in Python and
 * marshals with CPython's `xmlrpc.client` and `json`, so results are built as Python-like values:
 * a JavaScript number is a Python `int`, a {@link PyFloat} is a Python `float`, a `Map` is a dict
 * whose keys may be something else than strings, and `null` is `None`.
 */
export class PyFloat {
  constructor(readonly value: number) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | string
  | PyFloat
  | PyValue[]
  | Map<unknown, PyValue>
  | { [key: string]: PyValue };

export const pyFloat = (value: number): PyFloat => new PyFloat(value);

/** `repr(float)` of CPython: the shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Number.POSITIVE_INFINITY) return "inf";
  if (x === Number.NEGATIVE_INFINITY) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const abs = x < 0 ? -x : x;
  if (abs >= 1e-4 && abs < 1e16) {
    // Both JavaScript and Python print the shortest round-trip digits in fixed notation here.
    const s = String(x);
    return s.includes(".") ? s : `${s}.0`;
  }
  const sign = x < 0 ? "-" : "";
  const [mantissa = "0", expText = "0"] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);
  const decpt = exp + 1;
  if (decpt <= -4 || decpt > 16) {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    const abs = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${abs < 10 ? `0${abs}` : abs}`;
  }
  if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

/** An exception raised "inside Odoo": mapped to XML-RPC fault codes, JSON-RPC errors and JSON-2 statuses. */
export type ExceptionKind =
  | "user" // odoo.exceptions.UserError and friends: fault 2, JSON-2 422
  | "missing" // odoo.exceptions.MissingError: fault 2, JSON-2 404
  | "access" // odoo.exceptions.AccessError: fault 4, JSON-2 403
  | "denied" // odoo.exceptions.AccessDenied: fault 3, JSON-2 401
  | "notfound" // unknown model / method on JSON-2: 404
  | "badargs" // TypeError on arguments: fault 1, JSON-2 422
  | "server"; // anything else: fault 1 with a traceback, JSON-2 500

export class OdooException extends Error {
  constructor(
    /** Fully qualified Python class, e.g. `builtins.ValueError`, `odoo.exceptions.UserError`. */
    readonly pyClass: string,
    message: string,
    readonly kind: ExceptionKind,
    /** Source frames shown in the traceback (fault 1), innermost last. */
    readonly frames: readonly Frame[] = [],
  ) {
    super(message);
  }

  get shortClass(): string {
    const parts = this.pyClass.split(".");
    return this.pyClass.startsWith("builtins.") ? parts[parts.length - 1]! : this.pyClass;
  }
}

export interface Frame {
  file: string;
  line: number;
  fn: string;
  code: string;
}

const ODOO = "/usr/lib/python3/dist-packages/odoo";

export const frames = {
  dispatch: [
    { file: `${ODOO}/http.py`, line: 368, fn: "dispatch_rpc", code: "return dispatch(method, params)" },
    {
      file: `${ODOO}/service/model.py`,
      line: 39,
      fn: "dispatch",
      code: "res = execute_kw(db, uid, *params[3:])",
    },
    {
      file: `${ODOO}/service/model.py`,
      line: 61,
      fn: "execute_kw",
      code: "return execute(db, uid, obj, method, *args, **kw or {})",
    },
    {
      file: `${ODOO}/service/model.py`,
      line: 68,
      fn: "execute",
      code: "res = execute_cr(cr, uid, obj, method, *args, **kw)",
    },
    {
      file: `${ODOO}/service/model.py`,
      line: 52,
      fn: "execute_cr",
      code: "result = retrying(partial(odoo.api.call_kw, recs, method, args, kw), env)",
    },
    {
      file: `${ODOO}/api.py`,
      line: 466,
      fn: "call_kw",
      code: "result = _call_kw_model(method, model, args, kwargs)",
    },
  ],
  domain: [
    { file: `${ODOO}/models.py`, line: 5732, fn: "_search", code: "query = self._where_calc(domain)" },
    {
      file: `${ODOO}/osv/expression.py`,
      line: 1013,
      fn: "parse",
      code: 'raise ValueError("Invalid field %s.%s in leaf %s" % (model._name, path[0], str(leaf)))',
    },
  ],
  read: [
    {
      file: `${ODOO}/models.py`,
      line: 3010,
      fn: "read",
      code: "fields = self.check_field_access_rights('read', fields)",
    },
  ],
  marshal: [
    {
      file: "/usr/lib/python3.10/xmlrpc/client.py",
      line: 1033,
      fn: "dumps",
      code: "data = m.dumps(params)",
    },
    { file: "/usr/lib/python3.10/xmlrpc/client.py", line: 527, fn: "dumps", code: "dump(v, write)" },
  ],
  db: [
    {
      file: `${ODOO}/modules/registry.py`,
      line: 90,
      fn: "new",
      code: "with closing(registry.cursor()) as cr:",
    },
    {
      file: "/usr/lib/python3/dist-packages/psycopg2/__init__.py",
      line: 122,
      fn: "connect",
      code: "conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
    },
  ],
} satisfies Record<string, Frame[]>;

export function traceback(e: OdooException, outer: readonly Frame[]): string {
  const lines = ["Traceback (most recent call last):"];
  for (const f of [...outer, ...e.frames]) {
    lines.push(`  File "${f.file}", line ${f.line}, in ${f.fn}`, `    ${f.code}`);
  }
  lines.push(`${e.shortClass}: ${e.message}`);
  return `${lines.join("\n")}\n`;
}

export const err = {
  value: (message: string, fr: readonly Frame[] = []) =>
    new OdooException("builtins.ValueError", message, "server", fr),
  type: (message: string) => new OdooException("builtins.TypeError", message, "badargs"),
  user: (message: string) => new OdooException("odoo.exceptions.UserError", message, "user"),
  missing: (message: string) => new OdooException("odoo.exceptions.MissingError", message, "missing"),
  access: (message: string) => new OdooException("odoo.exceptions.AccessError", message, "access"),
  denied: () => new OdooException("odoo.exceptions.AccessDenied", "Access Denied", "denied"),
};
