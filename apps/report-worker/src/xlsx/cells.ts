/**
 * Cell values to SpreadsheetML text. Everything here is pure and per value: nothing is kept
 * between rows but a one-entry date cache per column.
 *
 * Text is written as inline strings (`t="inlineStr"`, ECMA-376 part 1 §18.3.1.4), so the writer
 * keeps no shared-string table in memory. A cell is a formula only when it has an `<f>` element,
 * and this module never writes one: text that looks like a formula ("=HYPERLINK(…)", "+1", "@x")
 * stays text in every reader.
 */

/** A money or percent value with its own decimals, for a column that mixes currencies. */
export interface DecimalCell {
  value: string;
  decimals: number;
}

export type CellValue = string | number | bigint | Date | DecimalCell | null | undefined;

/** Excel's limit on the characters in one cell. */
export const MAX_CELL_CHARS = 32_767;

// XML 1.0 (§2.2 Char) allows TAB, LF, CR and everything from U+0020 except lone surrogates,
// U+FFFE and U+FFFF. Odoo text can hold the others (pasted control characters); they are dropped,
// since no escape makes them legal and a reader refuses the whole part for one of them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Excel reads "_xHHHH_" in a string as the escaped character U+HHHH (ST_Xstring, §22.9.2.19); a
// literal one is kept by escaping its underscore as _x005F_.
const EXCEL_ESCAPE = /_(x[0-9A-Fa-f]{4}_)/g;
// One test decides whether a string needs any of the slow path.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const NEEDS_WORK = /[&<>\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]|_x[0-9A-Fa-f]{4}_/;

/** `text` made legal XML 1.0 (invalid characters removed), cut to Excel's cell limit, escaped. */
export function escapeText(text: string): string {
  if (!NEEDS_WORK.test(text)) {
    return text.length <= MAX_CELL_CHARS ? text : escapeText(cut(text));
  }
  let clean = text.replace(INVALID_XML_CHARS, "").replace(LONE_SURROGATE, "");
  if (clean.length > MAX_CELL_CHARS) clean = cut(clean);
  return clean
    .replace(EXCEL_ESCAPE, "_x005F_$1")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

/** The first MAX_CELL_CHARS UTF-16 units, without splitting a surrogate pair. */
function cut(text: string): string {
  const last = text.charCodeAt(MAX_CELL_CHARS - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_CELL_CHARS - 1 : MAX_CELL_CHARS);
}

/** Escapes for an attribute value that Excel reads as ST_Xstring (sheet names). */
export function escapeAttr(text: string): string {
  return escapeText(text).replace(/"/g, "&quot;");
}

/** Plain XML text outside SpreadsheetML (document properties): invalid characters dropped, escaped. */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML_CHARS, "")
    .replace(LONE_SURROGATE, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

/** An inline-string cell, or "" for empty text. `head` is `<c r="A1"` plus its ` s="…"`. */
export function textCell(head: string, text: string): string {
  if (text === "") return "";
  const escaped = escapeText(text);
  if (escaped === "") return "";
  // Leading or trailing whitespace survives only with xml:space="preserve".
  const edge = escaped.charCodeAt(0) <= 32 || escaped.charCodeAt(escaped.length - 1) <= 32;
  return `${head} t="inlineStr"><is><t${edge ? ' xml:space="preserve"' : ""}>${escaped}</t></is></c>`;
}

/** Column letters for a 0-based index: 0 → A, 25 → Z, 26 → AA. */
export function columnLetters(index: number): string {
  let n = index + 1;
  let letters = "";
  while (n > 0) {
    const rest = (n - 1) % 26;
    letters = String.fromCharCode(65 + rest) + letters;
    n = (n - 1 - rest) / 26;
  }
  return letters;
}

// The lexical forms written into <v> (xsd:double, §18.3.1.96): validated, then copied verbatim, so
// a decimal string from PostgreSQL's numeric never passes through a JS float on its way in.
const DECIMAL = /^-?\d+(?:\.\d+)?$/;
const INTEGER = /^-?\d+$/;
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

export function decimalText(value: string): string {
  if (!DECIMAL.test(value)) throw new TypeError(`"${value}" is not a decimal number like -1234.50`);
  return value;
}

export function integerText(value: unknown): string {
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "string" && INTEGER.test(value)) return value;
  throw new TypeError(`${describe(value)} is not an integer`);
}

export function numberText(value: unknown): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "string" && NUMBER.test(value)) return value;
  throw new TypeError(`${describe(value)} is not a finite number`);
}

const MS_PER_DAY = 86_400_000;
/** Serial of 1970-01-01 in Excel's 1900 date system. */
const UNIX_EPOCH_SERIAL = 25_569;
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The Excel serial number (1900 date system) of a calendar date: 'YYYY-MM-DD' as PostgreSQL's
 * `date` arrives, or a Date taken by its UTC calendar date (how timestamps are read). Computed in
 * UTC from the date's parts, so the process's time zone never shifts a day.
 */
export function dateSerial(value: unknown): number {
  let days: number;
  if (typeof value === "string") {
    const m = DATE_TEXT.exec(value);
    const year = Number(m?.[1]);
    const month = Number(m?.[2]);
    const day = Number(m?.[3]);
    const utc = Date.UTC(year, month - 1, day);
    const check = new Date(utc);
    // Date.UTC maps years 0–99 to 1900–1999 and rolls 31 April over to 1 May: both are refused.
    if (
      !m ||
      check.getUTCFullYear() !== year ||
      check.getUTCMonth() !== month - 1 ||
      check.getUTCDate() !== day
    ) {
      throw new TypeError(`"${value}" is not a date like 2024-12-31`);
    }
    days = utc / MS_PER_DAY;
  } else if (value instanceof Date && !Number.isNaN(value.getTime())) {
    days = Math.floor(value.getTime() / MS_PER_DAY);
  } else {
    throw new TypeError(`${describe(value)} is not a date`);
  }
  const serial = days + UNIX_EPOCH_SERIAL;
  // Excel counts a 29 February 1900 that never was (serial 60), kept for Lotus 1-2-3 compatibility:
  // serials from 1 March 1900 on are days since 1899-12-30, those before it one less.
  if (serial >= 61) {
    if (serial > 2_958_465) throw new RangeError(`${describe(value)} is after 9999-12-31`);
    return serial;
  }
  if (serial < 2) throw new RangeError(`${describe(value)} is before 1900-01-01, which Excel cannot show`);
  return serial - 1;
}

export function describe(value: unknown): string {
  if (typeof value === "string") return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}
