import { RawValue, rawPlaceholder, spliceRaw } from "./misbehave.js";
import { floatRepr as floatReprSafe, frames, OdooException, PyFloat, type PyValue } from "./py.js";

/**
 * Marshalling exactly like CPython's `xmlrpc.client.dumps(..., methodresponse=True, allow_none=False)`
 * as Odoo calls it: same element layout and newlines, `repr()` floats, no `<nil/>`, no `<i8>`, and
 * Odoo's control-character stripping on strings.
 */
const MAXINT = 2 ** 31 - 1;
const MININT = -(2 ** 31);

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;

export function escapeXml(s: string): string {
  if (!/[&<>]/.test(s)) return s;
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function marshalError(pyClass: string, message: string): OdooException {
  return new OdooException(pyClass, message, "server", frames.marshal);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting characters to escape or strip
const NEEDS_WORK = /[&<>\x00-\x08\x0b\x0c\x0e-\x1f]/;

function str(v: string): string {
  return NEEDS_WORK.test(v) ? escapeXml(v.replace(CONTROL, "")) : v;
}

/** String concatenation (V8 ropes) is several times faster than array joins for big pages. */
function dump(v: PyValue, acc: { s: string; raws?: RawValue[] }): void {
  if (v === null || v === undefined) {
    throw marshalError("builtins.TypeError", "cannot marshal None unless allow_none is enabled");
  }
  switch (typeof v) {
    case "boolean":
      acc.s += v ? "<value><boolean>1</boolean></value>\n" : "<value><boolean>0</boolean></value>\n";
      return;
    case "number":
      if (!Number.isInteger(v)) {
        acc.s += `<value><double>${floatReprSafe(v)}</double></value>\n`;
        return;
      }
      if (v > MAXINT || v < MININT)
        throw marshalError("builtins.OverflowError", "int exceeds XML-RPC limits");
      acc.s += `<value><int>${v}</int></value>\n`;
      return;
    case "string":
      acc.s += `<value><string>${str(v)}</string></value>\n`;
      return;
    default:
      break;
  }
  if (v instanceof PyFloat) {
    acc.s += `<value><double>${floatReprSafe(v.value)}</double></value>\n`;
    return;
  }
  if (v instanceof RawValue) {
    acc.raws ??= [];
    acc.s += rawPlaceholder(acc.raws.push(v) - 1);
    return;
  }
  if (Array.isArray(v)) {
    acc.s += "<value><array><data>\n";
    for (let i = 0; i < v.length; i++) dump(v[i]!, acc);
    acc.s += "</data></array></value>\n";
    return;
  }
  if (v instanceof Map) {
    acc.s += "<value><struct>\n";
    for (const [k, item] of v) {
      acc.s += "<member>\n";
      if (typeof k !== "string") throw marshalError("builtins.TypeError", "dictionary key must be string");
      acc.s += `<name>${escapeXml(k)}</name>\n`;
      dump(item, acc);
      acc.s += "</member>\n";
    }
    acc.s += "</struct></value>\n";
    return;
  }
  acc.s += "<value><struct>\n";
  for (const k in v) {
    acc.s += `<member>\n<name>${escapeXml(k)}</name>\n`;
    dump((v as Record<string, PyValue>)[k]!, acc);
    acc.s += "</member>\n";
  }
  acc.s += "</struct></value>\n";
}

/** `<methodResponse>` with one param; throws {@link OdooException} like Python's marshaller would. */
export function dumpResponse(value: PyValue): string {
  const acc: { s: string; raws?: RawValue[] } = {
    s: "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n",
  };
  dump(value, acc);
  return `${acc.s}</param>\n</params>\n</methodResponse>\n`;
}

/** `dumpResponse`, as bytes when the value holds raw values a misbehaving answer put there. */
export function dumpResponseBytes(value: PyValue): string | Buffer {
  const acc: { s: string; raws?: RawValue[] } = {
    s: "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n",
  };
  dump(value, acc);
  const text = `${acc.s}</param>\n</params>\n</methodResponse>\n`;
  return acc.raws ? spliceRaw(text, acc.raws, "xml") : text;
}

export function dumpFault(code: number, message: string): string {
  const acc = { s: "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n" };
  dump({ faultCode: code, faultString: message }, acc);
  return `${acc.s}</fault>\n</methodResponse>\n`;
}

// ---------------------------------------------------------------------------------------------
// Request parsing (methodCall). Accepts what Python's parser accepts: <nil/>, <i8>, <i4>, untyped
// values as strings, dateTime.iso8601 and base64 (kept as their text).

interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, ent: string) => {
    if (ent.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ent.slice(2), 16));
    if (ent.startsWith("#")) return String.fromCodePoint(Number.parseInt(ent.slice(1), 10));
    const r = ENTITIES[ent];
    if (r === undefined) throw parseError(`undefined entity: ${m}`);
    return r;
  });
}

function parseError(message: string): OdooException {
  return new OdooException("xml.parsers.expat.ExpatError", message, "server", [
    { file: "/usr/lib/python3.10/xmlrpc/client.py", line: 1029, fn: "loads", code: "p.feed(data)" },
  ]);
}

const TOKEN =
  /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>/g;

function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: "#root", children: [], text: "" };
  const stack: XmlNode[] = [root];
  let last = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(xml); m !== null; m = TOKEN.exec(xml)) {
    const top = stack[stack.length - 1]!;
    if (m.index > last) top.text += decodeEntities(xml.slice(last, m.index));
    last = TOKEN.lastIndex;
    if (m[1] !== undefined) {
      top.text += m[1];
      continue;
    }
    const name = m[3];
    if (name === undefined) continue;
    if (m[2] === "/") {
      if (top.name !== name) throw parseError(`mismatched tag: line 1, column ${m.index}`);
      stack.pop();
    } else {
      const node: XmlNode = { name, children: [], text: "" };
      top.children.push(node);
      if (m[4] !== "/") stack.push(node);
    }
  }
  if (stack.length !== 1) throw parseError("no element found: line 1, column 0");
  if (xml.slice(last).trim() !== "") throw parseError("junk after document element: line 1, column 0");
  if (root.children.length === 0) throw parseError("no element found: line 1, column 0");
  return root;
}

function child(node: XmlNode, name: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name);
}

function parseValue(node: XmlNode): unknown {
  const typed = node.children[0];
  if (!typed) return node.text;
  switch (typed.name) {
    case "int":
    case "i4":
    case "i8":
    case "i1":
    case "i2":
    case "biginteger": {
      const n = Number(typed.text.trim());
      if (!Number.isInteger(n)) throw err1(`invalid literal for int() with base 10: '${typed.text}'`);
      return n;
    }
    case "boolean": {
      const t = typed.text.trim();
      if (t === "1") return true;
      if (t === "0") return false;
      throw err1("bad boolean value");
    }
    case "double":
    case "float":
      return Number(typed.text.trim());
    case "string":
    case "dateTime.iso8601":
    case "base64":
      return typed.text;
    case "nil":
      return null;
    case "array": {
      const data = child(typed, "data");
      return (data?.children ?? []).filter((c) => c.name === "value").map(parseValue);
    }
    case "struct": {
      const out: Record<string, unknown> = {};
      for (const member of typed.children) {
        if (member.name !== "member") continue;
        const name = child(member, "name");
        const value = child(member, "value");
        if (name && value) out[name.text] = parseValue(value);
      }
      return out;
    }
    default:
      throw err1(`unknown tag '${typed.name}'`);
  }
}

function err1(message: string): OdooException {
  return new OdooException("builtins.ValueError", message, "server");
}

/** Parses a `<methodCall>` into plain JavaScript values (doubles and ints both become numbers). */
export function parseMethodCall(xml: string): { method: string; params: unknown[] } {
  const root = parseXml(xml);
  const call = root.children[0]!;
  if (call.name !== "methodCall") throw err1(`unknown tag '${call.name}'`);
  const method = child(call, "methodName")?.text.trim() ?? "";
  const params = child(call, "params");
  const values: unknown[] = [];
  for (const p of params?.children ?? []) {
    if (p.name !== "param") continue;
    const v = child(p, "value");
    if (v) values.push(parseValue(v));
  }
  return { method, params: values };
}
