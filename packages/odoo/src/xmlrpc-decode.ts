/**
 * A fast XML-RPC `methodResponse` decoder: a hand-written scanner over the response text, no sax,
 * no DOM. It produces the same values as the `xmlrpc` package's sax-based deserializer (which is
 * 10–20× slower) for everything Odoo and CPython's `xmlrpc.client` emit:
 *
 * - `<int>`, `<i4>` → number; `<i8>` → string of digits (as the package does: it may not fit a double)
 * - `<boolean>` `0`/`1` → false/true (anything else is an error)
 * - `<double>` → number (`parseFloat`, so `1e+16`, `0.30000000000000004`, `-0.0` round-trip);
 *   Python's `inf`, `-inf`, `nan` → ±Infinity / NaN (the package rejects them; Python accepts them)
 * - `<string>` and untyped `<value>text</value>` → string, with the five XML entities and decimal /
 *   hexadecimal character references decoded, CDATA sections kept verbatim, comments dropped
 * - `<struct>` → plain object (a `__proto__` key becomes an own property, never a prototype),
 *   `<array>` → array, `<nil/>` → null, `<base64>` → Buffer, `<dateTime.iso8601>` → Date
 *   (same conversion as the package; Odoo emits none of these three)
 * - `<fault>` → `{ fault: true, faultCode, faultString }`
 * - tag names are matched case-insensitively, like the package's non-strict sax parser.
 *
 * Nesting: arrays and structs inside one another deeper than `maxDepth` levels (default 64; the
 * answer's own list counts as one, a record as two, a many2one pair as three) are a parse error,
 * "value nested deeper than 64 levels", never a stack overflow: Odoo's values nest a few levels.
 *
 * Text: bytes that are not valid UTF-8 are decoded as U+FFFD (one per invalid sequence, as the
 * WHATWG decoder and Node do) rather than failing the whole answer: the record still arrives, its
 * damaged characters visible. Control characters arrive as sent; Odoo strips them before
 * marshalling (the ETL strips them too, see apps/etl-worker/src/transform.ts).
 *
 * Line ends: by default `\r` and `\r\n` inside strings are kept as sent, which is what the `xmlrpc`
 * package returns and what Odoo stored, so an XML-RPC read gives the same text as a JSON-RPC or
 * JSON-2 read. `normalizeNewlines: true` applies the XML spec's end-of-line rule (`\r\n`, `\r` →
 * `\n`), which is what CPython's `xmlrpc.client` (expat) returns.
 */
import { createRequire } from "node:module";

export type XmlRpcValue =
  | number
  | boolean
  | string
  | null
  | Buffer
  | Date
  | XmlRpcValue[]
  | { [key: string]: XmlRpcValue };

export type MethodResponse =
  | { fault: false; value: XmlRpcValue | undefined }
  | { fault: true; faultCode: unknown; faultString: unknown; value: XmlRpcValue };

export interface DecodeOptions {
  /** Apply XML end-of-line normalisation (`\r\n` and `\r` → `\n`) like CPython/expat. Default false. */
  normalizeNewlines?: boolean;
  /** Arrays and structs inside one another, at most (default MAX_NESTING). */
  maxDepth?: number;
}

/** How deep arrays and structs may nest in an answer (XML-RPC and JSON alike). */
export const MAX_NESTING = 64;

/** The text is not a well-formed XML-RPC methodResponse. `position` is the offset where decoding stopped. */
export class XmlRpcParseError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = "XmlRpcParseError";
  }
}

const require = createRequire(import.meta.url);
const dateFormatter = require("xmlrpc/lib/date_formatter.js") as { decodeIso8601(text: string): Date };

// Decoder state. Decoding is synchronous, so module-level state is safe and keeps the hot paths
// free of property loads on a context object.
let S = "";
let P = 0;
let NL = false;
/** Arrays and structs open around the current position, and the most allowed. */
let NEST = 0;
let MAX_NEST = MAX_NESTING;

function nestDeeper(): void {
  if (++NEST > MAX_NEST) fail(`value nested deeper than ${MAX_NEST} levels`);
}
/**
 * When the input is a Buffer it is decoded as latin1 (one char per byte: fast, compact one-byte
 * string), so char offsets are byte offsets. Any text chunk that contains a byte ≥ 0x80 is then
 * re-decoded as UTF-8 from the buffer. `nextHigh` caches the offset of the next such byte.
 */
let BUF: Buffer | undefined;
let nextHigh = -1;
const HIGH = /[\x80-\xff]/g;

/** S.slice(from, to) as UTF-8 text (re-decoded from the buffer when it holds non-ASCII bytes). */
function text(from: number, to: number): string {
  if (BUF !== undefined) {
    if (nextHigh < from) {
      HIGH.lastIndex = from;
      nextHigh = HIGH.exec(S) === null ? S.length : HIGH.lastIndex - 1;
    }
    if (nextHigh < to) return BUF.toString("utf8", from, to);
  }
  return S.slice(from, to);
}

const LT = 60; // <
const SLASH = 47; // /
const BANG = 33; // !
const QUESTION = 63; // ?

function fail(message: string, at = P): never {
  const snippet = S.slice(Math.max(0, at - 40), at + 40).replace(/\s+/g, " ");
  throw new XmlRpcParseError(`invalid XML-RPC response: ${message} at offset ${at} (near "${snippet}")`, at);
}

/** Skips whitespace, comments, processing instructions and a doctype between elements. */
function skipWs(): void {
  for (;;) {
    let c = S.charCodeAt(P);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = S.charCodeAt(++P);
    if (c !== LT) return;
    const d = S.charCodeAt(P + 1);
    if (d === QUESTION) {
      const end = S.indexOf("?>", P + 2);
      if (end < 0) fail("unterminated processing instruction");
      P = end + 2;
    } else if (d === BANG) {
      if (S.startsWith("<!--", P)) {
        const end = S.indexOf("-->", P + 4);
        if (end < 0) fail("unterminated comment");
        P = end + 3;
      } else if (S.startsWith("<![CDATA[", P)) {
        return;
      } else {
        const end = S.indexOf(">", P + 2);
        if (end < 0) fail("unterminated declaration");
        P = end + 1;
      }
    } else {
      return;
    }
  }
}

let selfClosing = false;

/** Reads `<name …>` or `<name …/>` at P; returns the lower-cased name and sets `selfClosing`. */
function readOpenTag(): string {
  if (S.charCodeAt(P) !== LT) fail("expected a tag");
  const end = S.indexOf(">", P + 1);
  if (end < 0) fail("unterminated tag");
  selfClosing = S.charCodeAt(end - 1) === SLASH;
  let i = P + 1;
  let c = S.charCodeAt(i);
  while (i < end && c !== 32 && c !== 10 && c !== 13 && c !== 9 && c !== SLASH) c = S.charCodeAt(++i);
  const name = S.slice(P + 1, i);
  P = end + 1;
  return name.toLowerCase();
}

/** Consumes `<tag>` (fast path) or any case/attribute/self-closing variant. Returns false if self-closing. */
function expectOpen(literal: string, tag: string): boolean {
  skipWs();
  if (S.startsWith(literal, P)) {
    P += literal.length;
    return true;
  }
  const at = P;
  const name = readOpenTag();
  if (name !== tag) fail(`expected <${tag}>, found <${name}>`, at);
  return !selfClosing;
}

function expectClose(literal: string, tag: string): void {
  skipWs();
  if (S.startsWith(literal, P)) {
    P += literal.length;
    return;
  }
  if (S.charCodeAt(P) !== LT || S.charCodeAt(P + 1) !== SLASH) fail(`expected </${tag}>`);
  const end = S.indexOf(">", P + 2);
  if (end < 0) fail("unterminated closing tag");
  const name = S.slice(P + 2, end)
    .trim()
    .toLowerCase();
  if (name !== tag) fail(`expected </${tag}>, found </${name}>`);
  P = end + 1;
}

/** True if P is at `</…`. */
const atClose = (): boolean => S.charCodeAt(P) === LT && S.charCodeAt(P + 1) === SLASH;

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  let out = "";
  let last = 0;
  let amp = s.indexOf("&");
  while (amp !== -1) {
    const semi = s.indexOf(";", amp + 1);
    if (semi === -1) break;
    const ref = s.slice(amp + 1, semi);
    let rep: string | undefined;
    if (ref.charCodeAt(0) === 35 /* # */) {
      const code =
        ref.charCodeAt(1) === 120 || ref.charCodeAt(1) === 88
          ? Number.parseInt(ref.slice(2), 16)
          : Number.parseInt(ref.slice(1), 10);
      if (Number.isInteger(code) && code >= 0 && code <= 0x10ffff) rep = String.fromCodePoint(code);
    } else {
      rep = NAMED[ref];
    }
    if (rep !== undefined) {
      out += s.slice(last, amp) + rep;
      last = semi + 1;
    }
    amp = s.indexOf("&", semi + 1);
  }
  return last === 0 ? s : out + s.slice(last);
}

function chunk(from: number, to: number): string {
  let s = text(from, to);
  if (NL && s.indexOf("\r") !== -1) s = s.replace(/\r\n?/g, "\n");
  if (s.indexOf("&") !== -1) s = decodeEntities(s);
  return s;
}

/** Reads character data up to the next element tag (CDATA sections included, comments dropped). */
function readText(): string {
  let lt = S.indexOf("<", P);
  if (lt < 0) fail("unexpected end of document");
  let out = lt === P ? "" : chunk(P, lt);
  P = lt;
  while (S.charCodeAt(P + 1) === BANG || S.charCodeAt(P + 1) === QUESTION) {
    if (S.startsWith("<![CDATA[", P)) {
      const end = S.indexOf("]]>", P + 9);
      if (end < 0) fail("unterminated CDATA section");
      let raw = text(P + 9, end);
      if (NL && raw.indexOf("\r") !== -1) raw = raw.replace(/\r\n?/g, "\n");
      out += raw;
      P = end + 3;
    } else if (S.startsWith("<!--", P)) {
      const end = S.indexOf("-->", P + 4);
      if (end < 0) fail("unterminated comment");
      P = end + 3;
    } else if (S.charCodeAt(P + 1) === QUESTION) {
      const end = S.indexOf("?>", P + 2);
      if (end < 0) fail("unterminated processing instruction");
      P = end + 2;
    } else {
      break;
    }
    lt = S.indexOf("<", P);
    if (lt < 0) fail("unexpected end of document");
    if (lt > P) out += chunk(P, lt);
    P = lt;
  }
  return out;
}

/** Reads the text of a scalar element whose open tag was consumed, then its close tag. */
function scalarText(empty: boolean, literal: string, tag: string): string {
  if (empty) return "";
  const text = readText();
  expectClose(literal, tag);
  return text;
}

function parseInteger(text: string): number {
  const n = text.length;
  if (n > 0 && n < 16) {
    let i = 0;
    let neg = false;
    const first = text.charCodeAt(0);
    if (first === 45) {
      neg = true;
      i = 1;
    } else if (first === 43) {
      i = 1;
    }
    if (i < n) {
      let v = 0;
      for (; i < n; i++) {
        const d = text.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
      }
      if (i === n) return neg ? -v : v;
    }
  }
  const v = Number.parseInt(text, 10);
  if (Number.isNaN(v)) fail(`expected an integer but got '${text}'`);
  return v;
}

const PY_SPECIAL_FLOAT = /^\s*([+-]?)(inf|infinity|nan)\s*$/i;

function parseDouble(text: string): number {
  const v = Number.parseFloat(text);
  if (!Number.isNaN(v)) return v;
  const special = PY_SPECIAL_FLOAT.exec(text);
  if (special) {
    if (special[2]?.toLowerCase() === "nan") return Number.NaN;
    return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  return fail(`expected a double but got '${text}'`);
}

const I8 = /^-?\d+$/;

/** Exact powers of ten as doubles (10^22 is the largest that is exact). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** `<int>` content scanned in place (no substring) when it is plain digits; else the text path. */
function scanInt(): number {
  let i = P;
  let c = S.charCodeAt(i);
  let neg = false;
  if (c === 45) {
    neg = true;
    c = S.charCodeAt(++i);
  } else if (c === 43) {
    c = S.charCodeAt(++i);
  }
  const start = i;
  let v = 0;
  while (c >= 48 && c <= 57) {
    v = v * 10 + (c - 48);
    c = S.charCodeAt(++i);
  }
  if (c === LT && i > start && i - start < 16) {
    P = i;
    return neg ? -v : v;
  }
  return parseInteger(readText());
}

/**
 * `<double>` content scanned in place. Decimal text with at most 15 significant digits and a
 * power-of-ten scale within ±22 converts exactly with one correctly rounded multiplication or
 * division (Clinger's fast path), so the result is bit-identical to `parseFloat`; anything else
 * goes through `parseFloat`.
 */
function scanDouble(): number {
  let i = P;
  let c = S.charCodeAt(i);
  let neg = false;
  if (c === 45) {
    neg = true;
    c = S.charCodeAt(++i);
  } else if (c === 43) {
    c = S.charCodeAt(++i);
  }
  let mantissa = 0;
  let significant = 0;
  let scale = 0;
  let digits = 0;
  while (c >= 48 && c <= 57) {
    if (significant > 0 || c !== 48) significant++;
    mantissa = mantissa * 10 + (c - 48);
    digits++;
    c = S.charCodeAt(++i);
  }
  if (c === 46) {
    c = S.charCodeAt(++i);
    while (c >= 48 && c <= 57) {
      if (significant > 0 || c !== 48) significant++;
      mantissa = mantissa * 10 + (c - 48);
      scale++;
      digits++;
      c = S.charCodeAt(++i);
    }
  }
  let exponent = 0;
  let ok = digits > 0 && significant <= 15;
  if (ok && (c === 101 || c === 69)) {
    c = S.charCodeAt(++i);
    let expNeg = false;
    if (c === 45) {
      expNeg = true;
      c = S.charCodeAt(++i);
    } else if (c === 43) {
      c = S.charCodeAt(++i);
    }
    let expDigits = 0;
    while (c >= 48 && c <= 57 && expDigits < 6) {
      exponent = exponent * 10 + (c - 48);
      expDigits++;
      c = S.charCodeAt(++i);
    }
    if (expDigits === 0) ok = false;
    if (expNeg) exponent = -exponent;
  }
  if (ok && c === LT) {
    const e = exponent - scale;
    let v: number | undefined;
    if (e === 0) v = mantissa;
    else if (e > 0 && e <= 22) v = mantissa * (POW10[e] as number);
    else if (e < 0 && e >= -22) v = mantissa / (POW10[-e] as number);
    if (v !== undefined) {
      P = i;
      return neg ? -v : v;
    }
  }
  return parseDouble(readText());
}

/** Parses the content of a `<value>` whose open tag was consumed, through its `</value>`. */
function parseValue(): XmlRpcValue {
  const leading = readText();
  if (atClose()) {
    // <value>text</value>: an untyped value is a string
    expectClose("</value>", "value");
    return leading;
  }
  const at = P;
  let value: XmlRpcValue;
  // Fast paths for the exact tags CPython writes.
  if (S.startsWith("<string>", P)) {
    P += 8;
    value = readText();
    expectClose("</string>", "string");
  } else if (S.startsWith("<int>", P)) {
    P += 5;
    value = scanInt();
    expectClose("</int>", "int");
  } else if (S.startsWith("<double>", P)) {
    P += 8;
    value = scanDouble();
    expectClose("</double>", "double");
  } else if (S.startsWith("<boolean>", P)) {
    P += 9;
    const t = readText();
    if (t === "1") value = true;
    else if (t === "0") value = false;
    else return fail(`illegal boolean value '${t}'`, at);
    expectClose("</boolean>", "boolean");
  } else if (S.startsWith("<array>", P)) {
    P += 7;
    value = parseArray();
  } else if (S.startsWith("<struct>", P)) {
    P += 8;
    value = parseStruct();
  } else {
    const tag = readOpenTag();
    const open = !selfClosing;
    switch (tag) {
      case "string":
        value = scalarText(!open, "</string>", "string");
        break;
      case "int":
      case "i4":
        value = parseInteger(scalarText(!open, tag === "int" ? "</int>" : "</i4>", tag));
        break;
      case "double":
        value = parseDouble(scalarText(!open, "</double>", "double"));
        break;
      case "boolean": {
        const t = scalarText(!open, "</boolean>", "boolean");
        if (t === "1") value = true;
        else if (t === "0") value = false;
        else return fail(`illegal boolean value '${t}'`, at);
        break;
      }
      case "struct":
        value = open ? parseStruct() : {};
        break;
      case "array":
        value = open ? parseArray() : [];
        break;
      case "nil":
        if (open) expectClose("</nil>", "nil");
        value = null;
        break;
      case "i8": {
        const t = scalarText(!open, "</i8>", "i8");
        if (!I8.test(t)) fail(`expected an integer (i8) but got '${t}'`, at);
        value = t;
        break;
      }
      case "base64":
        value = Buffer.from(scalarText(!open, "</base64>", "base64"), "base64");
        break;
      case "datetime.iso8601":
        value = dateFormatter.decodeIso8601(scalarText(!open, "</dateTime.iso8601>", "datetime.iso8601"));
        break;
      default:
        return fail(`unexpected <${tag}> inside <value>`, at);
    }
  }
  expectClose("</value>", "value");
  return value;
}

/**
 * Member names seen at each struct depth, by position: the records of a page share their keys, so
 * the name at the same position is usually the same string and can be reused without a substring.
 */
const keyHints: (string | undefined)[][] = [];
let depth = 0;

/**
 * At a member name (its `<name>` consumed): true, and past `</name>`, when it is `hint` (the name
 * seen at this position of the previous struct) with nothing else before `</name>`.
 */
function sameName(hint: string | undefined): boolean {
  if (
    hint === undefined ||
    !S.startsWith(hint, P) ||
    S.charCodeAt(P + hint.length) !== LT ||
    !S.startsWith("</name>", P + hint.length)
  ) {
    return false;
  }
  P += hint.length + 7;
  return true;
}

function parseStruct(): { [key: string]: XmlRpcValue } {
  const obj: { [key: string]: XmlRpcValue } = {};
  nestDeeper();
  depth++;
  let hints = keyHints[depth];
  if (hints === undefined) {
    hints = [];
    keyHints[depth] = hints;
  }
  let index = 0;
  for (;;) {
    skipWs();
    if (atClose()) break;
    if (!expectOpen("<member>", "member")) fail("empty <member/>");
    let key = "";
    if (expectOpen("<name>", "name")) {
      const hint = hints[index];
      if (sameName(hint)) {
        key = hint as string;
      } else {
        key = readText();
        expectClose("</name>", "name");
        // a decoded name that held an entity could match different raw text: never reuse it
        hints[index] = key.indexOf("&") === -1 ? key : undefined;
      }
    }
    index++;
    const value = expectOpen("<value>", "value") ? parseValue() : "";
    expectClose("</member>", "member");
    if (key === "__proto__") {
      Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      obj[key] = value;
    }
  }
  expectClose("</struct>", "struct");
  depth--;
  NEST--;
  return obj;
}

function parseArray(): XmlRpcValue[] {
  const arr: XmlRpcValue[] = [];
  nestDeeper();
  if (expectOpen("<data>", "data")) {
    for (;;) {
      skipWs();
      if (atClose()) break;
      arr.push(expectOpen("<value>", "value") ? parseValue() : "");
    }
    expectClose("</data>", "data");
  }
  expectClose("</array>", "array");
  NEST--;
  return arr;
}

// ── records visited one by one ───────────────────────────────────────────────────────────────

/**
 * Receives the records of a `search_read` answer one at a time, with no object per record: the
 * hot path of a sync, where a page's records are only turned into column text.
 */
export interface RecordVisitor {
  /** The wanted fields: `values[i]` in `record()` is the value of `fields[i]`. Other members are skipped. */
  readonly fields: readonly string[];
  /**
   * Per field, true when a many2one `[id, "name"]` may arrive as its id alone: the name is then
   * stepped over, never decoded. Only a pair of a positive `<int>` and a plain `<string>` is
   * shortened; any other value arrives as the generic decoder returns it.
   */
  readonly idOnly?: readonly boolean[];
  /**
   * One record. `values` is reused for the next record: read it now, keep nothing. A field the
   * record did not have is `undefined`.
   */
  record(values: readonly (XmlRpcValue | undefined)[]): void;
}

let V_SLOTS: Map<string, number> = new Map();
let V_ID_ONLY: readonly boolean[] = [];
let V_VALUES: (XmlRpcValue | undefined)[] = [];
/** Member name and slot seen at each position of the previous record. */
let vNames: (string | undefined)[] = [];
let vSlots: number[] = [];

/** Skips whitespace, then consumes `literal` if it is next. */
function lit(literal: string): boolean {
  let c = S.charCodeAt(P);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = S.charCodeAt(++P);
  if (!S.startsWith(literal, P)) return false;
  P += literal.length;
  return true;
}

/**
 * At a many2one value (its `<value>` consumed): `[id, "name"]` as the id, the name not decoded; any
 * other shape through the generic parser from the same place.
 */
function idOfPair(): XmlRpcValue {
  const start = P;
  if (lit("<array>") && lit("<data>") && lit("<value>") && lit("<int>")) {
    let i = P;
    let c = S.charCodeAt(i);
    let v = 0;
    while (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      c = S.charCodeAt(++i);
    }
    if (i > P && i - P < 16 && v > 0 && c === LT) {
      P = i;
      if (lit("</int>") && lit("</value>") && lit("<value>") && lit("<string>")) {
        // Character data holds no '<' (escaped as &lt;): the next one ends the name, unless it is
        // a CDATA section or a comment, which the generic parser handles.
        const lt = S.indexOf("<", P);
        if (lt >= 0 && S.startsWith("</string>", lt)) {
          P = lt + 9;
          if (lit("</value>") && lit("</data>") && lit("</array>") && lit("</value>")) return v;
        }
      }
    }
  }
  P = start;
  return parseValue();
}

/** A record's `<struct>` (open tag consumed) into V_VALUES. */
function visitStruct(): void {
  // inside the answer's list (1) and the record (2)
  NEST = 2;
  let index = 0;
  for (;;) {
    skipWs();
    if (atClose()) break;
    if (!expectOpen("<member>", "member")) fail("empty <member/>");
    let slot = -1;
    if (expectOpen("<name>", "name")) {
      if (sameName(vNames[index])) {
        slot = vSlots[index] as number;
      } else {
        const key = readText();
        expectClose("</name>", "name");
        slot = V_SLOTS.get(key) ?? -1;
        vNames[index] = key.indexOf("&") === -1 ? key : undefined;
        vSlots[index] = slot;
      }
    } else {
      slot = V_SLOTS.get("") ?? -1;
    }
    index++;
    let value: XmlRpcValue = "";
    if (expectOpen("<value>", "value"))
      value = slot >= 0 && V_ID_ONLY[slot] === true ? idOfPair() : parseValue();
    expectClose("</member>", "member");
    if (slot >= 0) V_VALUES[slot] = value;
  }
  expectClose("</struct>", "struct");
}

/** The param's value (its `<value>` consumed) as a list of records, each handed to the visitor. */
function visitRecords(visitor: RecordVisitor): number {
  skipWs();
  if (!S.startsWith("<array>", P) && !/^<array[\s/>]/i.test(S.slice(P, P + 8))) {
    fail("expected a list of records (<array>)");
  }
  let count = 0;
  if (expectOpen("<array>", "array")) {
    if (expectOpen("<data>", "data")) {
      for (;;) {
        skipWs();
        if (atClose()) break;
        if (!expectOpen("<value>", "value")) fail("expected a record (<struct>), found an empty <value/>");
        skipWs();
        const at = P;
        if (S.startsWith("<struct>", P)) {
          P += 8;
          visitStruct();
        } else {
          const tag = readOpenTag();
          if (tag !== "struct") fail(`expected a record (<struct>), found <${tag}>`, at);
          if (!selfClosing) visitStruct();
        }
        expectClose("</value>", "value");
        visitor.record(V_VALUES);
        V_VALUES.fill(undefined);
        count++;
      }
      expectClose("</data>", "data");
    }
    expectClose("</array>", "array");
  }
  expectClose("</value>", "value");
  return count;
}

/**
 * Decodes a `search_read` methodResponse straight into `visitor`, record by record; returns how
 * many records it held. Values are those `decodeMethodResponse` gives (many2one pairs shortened as
 * `idOnly` says). A fault, or an answer that is not a list of records, is an `XmlRpcParseError`.
 */
export function decodeRecords(
  input: string | Uint8Array,
  visitor: RecordVisitor,
  options: DecodeOptions = {},
): number {
  V_SLOTS = new Map(visitor.fields.map((f, i) => [f, i]));
  V_ID_ONLY = visitor.idOnly ?? [];
  V_VALUES = new Array(visitor.fields.length).fill(undefined);
  vNames = [];
  vSlots = [];
  let count = 0;
  try {
    document(input, options, (kind, at) => {
      if (kind !== "params") fail(`expected <params> with a list of records, found <${kind}>`, at);
      if (selfClosing) fail("empty <params/>", at);
      skipWs();
      if (!expectOpen("<param>", "param") || !expectOpen("<value>", "value")) fail("empty <param>", at);
      count = visitRecords(visitor);
      expectClose("</param>", "param");
      skipWs();
      if (!atClose()) fail("response has more than one param", at);
      expectClose("</params>", "params");
      return { fault: false, value: undefined };
    });
  } finally {
    V_VALUES = [];
    vNames = [];
  }
  return count;
}

/** True if the text starts like an XML document whose root is `<methodResponse>`. */
export function looksLikeMethodResponse(text: string): boolean {
  const head = text.slice(0, 512).replace(/^\uFEFF/, "");
  return /^\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<methodResponse[\s>]/i.test(head);
}

/**
 * Decodes an XML-RPC methodResponse. Throws `XmlRpcParseError` on anything that is not a
 * well-formed methodResponse (including HTML pages: check `looksLikeMethodResponse` first to report
 * those as what they are).
 */
export function decodeMethodResponse(
  input: string | Uint8Array,
  options: DecodeOptions = {},
): MethodResponse {
  return document(input, options, (kind, at) => {
    if (kind === "params") {
      const values: XmlRpcValue[] = [];
      if (!selfClosing) {
        for (;;) {
          skipWs();
          if (atClose()) break;
          if (expectOpen("<param>", "param")) {
            values.push(expectOpen("<value>", "value") ? parseValue() : "");
            expectClose("</param>", "param");
          }
        }
        expectClose("</params>", "params");
      }
      if (values.length > 1) fail("response has more than one param", at);
      return { fault: false, value: values[0] };
    }
    if (kind === "fault") {
      if (selfClosing || !expectOpen("<value>", "value")) fail("empty <fault>", at);
      const value = parseValue();
      expectClose("</fault>", "fault");
      const struct = value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
      const f = struct as Record<string, unknown>;
      return { fault: true, faultCode: f.faultCode, faultString: f.faultString, value };
    }
    return fail(`expected <params> or <fault>, found <${kind}>`, at);
  });
}

/**
 * Sets up the decoder on `input`, reads `<methodResponse>` and its child's open tag, hands that tag
 * to `body` (which reads through its close tag), then checks the document ends there.
 */
function document(
  input: string | Uint8Array,
  options: DecodeOptions,
  body: (kind: string, at: number) => MethodResponse,
): MethodResponse {
  if (typeof input === "string") {
    S = input;
    BUF = undefined;
    P = S.charCodeAt(0) === 0xfeff ? 1 : 0;
  } else {
    BUF = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    S = BUF.toString("latin1");
    P = BUF[0] === 0xef && BUF[1] === 0xbb && BUF[2] === 0xbf ? 3 : 0;
  }
  nextHigh = -1;
  keyHints.length = 0;
  depth = 0;
  NEST = 0;
  MAX_NEST = options.maxDepth ?? MAX_NESTING;
  NL = options.normalizeNewlines === true;
  try {
    skipWs();
    const rootAt = P;
    if (P >= S.length) fail("empty document");
    const root = readOpenTag();
    if (root !== "methodresponse") fail(`root element is <${root}>, not <methodResponse>`, rootAt);
    if (selfClosing) fail("empty <methodResponse/>", rootAt);
    skipWs();
    const at = P;
    const kind = readOpenTag();
    const result = body(kind, at);
    expectClose("</methodResponse>", "methodresponse");
    skipWs();
    if (P < S.length) fail("content after </methodResponse>");
    return result;
  } finally {
    S = "";
    BUF = undefined;
  }
}
