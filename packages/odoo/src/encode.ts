/**
 * Request values, checked and converted once before any protocol writes them.
 *
 * - Integers outside the 32-bit range are never sent as XML-RPC `<int>` (which is 32-bit: Odoo's
 *   marshaller refuses them): they are sent as `<double>`. That is exact up to 2^53 (beyond, the JS
 *   number was already inexact), and since Odoo's integer and id columns are 32-bit such a value can
 *   only be meant for a float/monetary field or a comparison, where a double is what Odoo uses
 *   anyway. JSON-RPC and JSON-2 send them as JSON numbers.
 * - `Date` → `"YYYY-MM-DD HH:MM:SS"` in UTC, the form Odoo expects for datetimes (never
 *   `dateTime.iso8601`); send dates as `"YYYY-MM-DD"` strings yourself.
 * - `undefined` struct members are dropped (like JSON); `undefined` in an array is an error.
 * - NaN/±Infinity and control characters (other than tab, LF, CR) are refused: no server parses them.
 * - JavaScript has one number type: integral numbers are sent as `<int>`, others as `<double>`
 *   (the `xmlrpc` package's rule). Odoo accepts an int where a float is expected.
 */
import { createRequire } from "node:module";
import { OdooEncodeError } from "./errors.js";

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
// biome-ignore lint/suspicious/noControlCharactersInRegex: this regex exists to find control characters
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

const pad = (n: number): string => String(n).padStart(2, "0");

/** A Date as Odoo's UTC datetime string `YYYY-MM-DD HH:MM:SS`. */
export const toOdooDatetime = (d: Date): string =>
  `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;

/** Returns `value` ready to be serialised, or throws `OdooEncodeError` naming the offending path. */
export function prepareValue(value: unknown, xmlrpc: boolean, path: string): unknown {
  switch (typeof value) {
    case "string":
      if (CONTROL.test(value)) {
        throw new OdooEncodeError(
          `${path}: string contains a control character (U+${value.match(CONTROL)?.[0]?.charCodeAt(0).toString(16).padStart(4, "0")}) that XML cannot carry`,
        );
      }
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new OdooEncodeError(`${path}: ${value} cannot be sent to Odoo`);
      if (xmlrpc && Number.isInteger(value) && (value > INT32_MAX || value < INT32_MIN))
        return new XmlRpcDouble(value);
      return value;
    case "bigint":
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new OdooEncodeError(`${path}: ${value} exceeds the safe integer range`);
      }
      return prepareValue(Number(value), xmlrpc, path);
    case "boolean":
      return value;
    case "undefined":
      throw new OdooEncodeError(`${path}: undefined cannot be sent to Odoo (use null or false)`);
    case "object": {
      if (value === null) return null;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new OdooEncodeError(`${path}: invalid Date`);
        return toOdooDatetime(value);
      }
      if (Buffer.isBuffer(value)) return value;
      if (Array.isArray(value)) return value.map((item, i) => prepareValue(item, xmlrpc, `${path}[${i}]`));
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new OdooEncodeError(`${path}: ${proto?.constructor?.name ?? "object"} cannot be sent to Odoo`);
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        if (item === undefined) continue;
        out[key] = prepareValue(item, xmlrpc, `${path}.${key}`);
      }
      return out;
    }
    default:
      throw new OdooEncodeError(`${path}: a ${typeof value} cannot be sent to Odoo`);
  }
}

const require = createRequire(import.meta.url);
const CustomType = require("xmlrpc/lib/customtype.js") as new (
  raw: string,
) => { raw: string; tagName: string };

/** A number the `xmlrpc` serializer writes as `<double>` even when it is integral. */
class XmlRpcDouble extends CustomType {
  constructor(value: number) {
    super(String(value));
  }
}
XmlRpcDouble.prototype.tagName = "double";

const serializer = require("xmlrpc/lib/serializer.js") as {
  serializeMethodCall(method: string, params: unknown[], encoding?: string): string;
};

/** An XML-RPC methodCall, written by the `xmlrpc` package's serializer after `prepareValue`. */
export function encodeMethodCall(method: string, params: readonly unknown[], call: string): string {
  const prepared = params.map((p, i) => prepareValue(p, true, `${call} param ${i + 1}`));
  return serializer.serializeMethodCall(method, prepared, "utf-8");
}
