import { RawValue, rawPlaceholder, spliceRaw } from "./misbehave.js";
import { floatRepr, PyFloat, type PyValue } from "./py.js";

/**
 * `json.dumps(value, ensure_ascii=False)` as Odoo's `make_json_response` writes it: `", "` and
 * `": "` separators, floats in `repr()` form (`100.0`), `None` as `null`, non-string dict keys
 * converted to strings.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes control characters
const ESCAPE = /[\x00-\x1f\\"]/g;
const NAMED: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

export function jsonString(s: string): string {
  return `"${s.replace(ESCAPE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;
}

function jsonFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "Infinity";
  if (x === Number.NEGATIVE_INFINITY) return "-Infinity";
  return floatRepr(x);
}

function keyString(k: unknown): string {
  if (typeof k === "string") return k;
  if (k === true) return "true";
  if (k === false) return "false";
  if (k === null || k === undefined) return "null";
  if (k instanceof PyFloat) return jsonFloat(k.value);
  return String(k);
}

function dump(v: PyValue | undefined, out: string[], raws?: RawValue[]): void {
  if (v === null || v === undefined) {
    out.push("null");
    return;
  }
  switch (typeof v) {
    case "boolean":
      out.push(v ? "true" : "false");
      return;
    case "number":
      out.push(Number.isInteger(v) ? String(v) : jsonFloat(v));
      return;
    case "string":
      out.push(jsonString(v));
      return;
    default:
      break;
  }
  if (v instanceof PyFloat) {
    out.push(jsonFloat(v.value));
    return;
  }
  if (v instanceof RawValue) {
    if (raws) out.push(rawPlaceholder(raws.push(v) - 1));
    else out.push("null");
    return;
  }
  if (Array.isArray(v)) {
    out.push("[");
    v.forEach((item, i) => {
      if (i > 0) out.push(", ");
      dump(item, out, raws);
    });
    out.push("]");
    return;
  }
  const entries: [unknown, PyValue][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  out.push("{");
  entries.forEach(([k, item], i) => {
    if (i > 0) out.push(", ");
    out.push(jsonString(keyString(k)), ": ");
    dump(item, out, raws);
  });
  out.push("}");
}

export function pyJsonDumps(value: PyValue | undefined): string {
  const out: string[] = [];
  dump(value, out);
  return out.join("");
}

/** `pyJsonDumps`, as bytes when the value holds raw values a misbehaving answer put there. */
export function pyJsonDumpsBytes(value: PyValue | undefined): string | Buffer {
  const out: string[] = [];
  const raws: RawValue[] = [];
  dump(value, out, raws);
  const text = out.join("");
  return raws.length ? spliceRaw(text, raws, "json") : text;
}

/** Converts parsed JSON request values; JSON numbers stay numbers. */
export function parseJson(text: string): unknown {
  return JSON.parse(text);
}
