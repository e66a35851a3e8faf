/**
 * Odoo values → PostgreSQL column values, one place, driven by the registry's field kinds.
 * Odoo's `false` for an empty value becomes NULL (except on booleans, where it is the value);
 * many2one `[id, "name"]` becomes the id; floats become their exact decimal text (Odoo's shortest
 * round-trip digits), monetary amounts rounded half away from zero to their currency's decimals;
 * datetimes (UTC, no zone) become ISO 8601 with `Z`.
 *
 * Every value is checked against what its column can store before anything is sent to PostgreSQL,
 * so that one bad record can never abort the upsert or the COPY of its whole page (and with it its
 * model's sync, run after run):
 *
 * - a value of another type, a date or a datetime that does not exist (`2023-02-30`, `25:00:00`),
 *   an integer or an id outside PostgreSQL's `integer` range, JSON that `jsonb` refuses (a NUL, a
 *   lone surrogate): the record is **rejected**, not written, and reported with model, id, field,
 *   what was expected and what came. Nulling the field instead would store a record that looks
 *   complete but is wrong (an invoice without its date drops out of every period and aging
 *   bucket); a record that is missing is visibly missing: it is listed in the run's result and
 *   `etl.rejected`, and read again by every sync until Odoo has a value that can be stored.
 * - control characters in text (U+0000–U+001F but tab, LF and CR; NUL is what PostgreSQL's `text`
 *   cannot store): removed, the record written, the change reported as **cleaned**. These are
 *   exactly the characters Odoo's own XML-RPC marshaller strips, so a text reads the same whichever
 *   protocol carried it. (Bytes that were not UTF-8 arrive from the Odoo client as U+FFFD.)
 */

import type { FieldKind, FieldSpec } from "@finanzas/ledger";
import { type BufferPool, type RecordVisitor, toDecimalString } from "@finanzas/odoo";

export interface Problem {
  model: string;
  id: number;
  field: string;
  /** What the field must hold to be written. */
  expected: string;
  /** The offending value, shortened. */
  value: string;
  /**
   * `rejected`: the record was not written (kept in etl.rejected, read again by the next sync);
   * `cleaned`: written, with control characters removed from this text.
   */
  action: "rejected" | "cleaned";
}

export type Row = Record<string, unknown> & { id: number };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^((\d{4})-(\d{2})-(\d{2}))[ T](([01]\d|2[0-3]):[0-5]\d:[0-5]\d)(\.\d{1,6})?$/;
/** The control characters Odoo's XML-RPC marshaller strips (all below U+0020 but tab, LF, CR). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;
/** A lone surrogate as JSON.stringify escapes it (paired ones are written as characters): jsonb refuses it. */
const LONE_SURROGATE = /\\ud[89a-f][0-9a-f]{2}/i;
/** PostgreSQL's `integer`: ids, many2one and many2many references, integer fields. */
const INT_MAX = 2 ** 31 - 1;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A calendar date PostgreSQL stores: year 1 to 9999, a month that exists, a day of that month. */
function dateExists(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (DAYS[month - 1] as number) + (leap ? 1 : 0);
}

/** Rounds exact decimal text half away from zero to `decimals` places: ("2.675", 2) → "2.68". */
export function roundDecimal(text: string, decimals: number): string {
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const [intPart = "0", frac = ""] = body.split(".");
  let result: string;
  if (frac.length <= decimals) {
    result = frac ? `${intPart}.${frac}` : intPart;
  } else {
    const digits = (intPart + frac.slice(0, decimals)).split("").map(Number);
    if (frac.charCodeAt(decimals) - 48 >= 5) {
      let i = digits.length - 1;
      while (i >= 0) {
        if (digits[i] === 9) {
          digits[i] = 0;
          i--;
        } else {
          digits[i] = (digits[i] ?? 0) + 1;
          break;
        }
      }
      if (i < 0) digits.unshift(1);
    }
    const all = digits.join("");
    const cut = all.length - decimals;
    result = decimals > 0 ? `${all.slice(0, cut)}.${all.slice(cut)}` : all;
  }
  if (result.includes(".")) result = result.replace(/0+$/, "").replace(/\.$/, "");
  result = result.replace(/^0+(?=\d)/, "");
  if (/^0(\.0*)?$/.test(result)) return "0";
  return negative ? `-${result}` : result;
}

/** Decimals of a currency from its rounding factor when `decimal_places` is not readable. */
export const decimalsOfRounding = (rounding: number): number =>
  rounding > 0 && rounding < 1 ? Math.ceil(Math.log10(1 / rounding) - 1e-9) : 0;

const show = (value: unknown): string => {
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/**
 * Exact decimal text of a double: JavaScript's String() gives the same shortest round-trip digits
 * as Python's repr, so outside exponent notation it is the text Odoo sent; toDecimalString handles
 * the rest.
 */
const decimalText = (value: number): string => {
  const text = String(value);
  return text.includes("e") ? toDecimalString(value) : text;
};

export interface Transformer {
  /** The columns written, in order (`id` first). */
  columns: FieldSpec[];
  /**
   * Maps a page of records straight to what the upsert reads: one PostgreSQL array literal per
   * column (`id` first), no intermediate row objects (the hot path of a sync). Records that cannot
   * be stored are left out; their problems, and what was cleaned in the others, go to `onProblems`.
   */
  encode(records: readonly Record<string, unknown>[], onProblems: (problems: Problem[]) => void): ArrayPage;
  /** The same page as COPY text, for a table known to hold none of its ids (a first full pass). */
  encodeCopy(
    records: readonly Record<string, unknown>[],
    onProblems: (problems: Problem[]) => void,
    bytes?: BufferPool,
  ): CopyPage;
  /**
   * A page built straight from the decoder (`OdooClient.searchReadPage`): hand it to `visit`, then
   * `finish` gives the encoded page, the problems, and what the page's summary needs. Values are
   * those of `encode`/`encodeCopy`; many2one names are never decoded. `bytes`: where a COPY
   * page's bytes are written (given back there once PostgreSQL has them, see `PageReader.recycle`).
   */
  visitor(format: "arrays" | "copy", bytes?: BufferPool): PageVisitor;
  /**
   * Maps one record; returns the row (with what was cleaned, if anything), or the problems that keep
   * it from being written.
   */
  row(
    record: Record<string, unknown>,
  ): { row: Row; problems?: Problem[] } | { row?: undefined; problems: Problem[] };
}

export interface PageVisitor extends RecordVisitor {
  finish(): {
    encoded: EncodedPage;
    problems: Problem[];
    /** Records visited (written ones plus those with problems). */
    fetched: number;
    /** Id of the last record visited (null if none, or not an id). */
    lastId: number | null;
    /** write_date of the last record visited, as sent. */
    lastWriteDate: unknown;
    /** The newest write_date text of the page. */
    newestWriteDate: string | undefined;
  };
}

/** A page as the upsert reads it: one array literal per column. */
export interface ArrayPage {
  format: "arrays";
  /**
   * Per column (`id`, then the transformer's columns), the text of a one-dimensional PostgreSQL
   * array of the page's values: `{1,2}`, `{"a \"b\"",NULL}`. Text, JSON and id-list values are
   * always quoted; numbers, dates and booleans never need to be.
   */
  columns: string[];
  /** How many rows it holds. */
  rows: number;
}

/** A page as `COPY … FROM STDIN` reads it (text format): a line per row, `id` first. */
export interface CopyPage {
  format: "copy";
  /**
   * UTF-8 of tab-separated values, `\N` for NULL, backslash, tab, newline and CR escaped; `\n`
   * after each row. Bytes with a buffer of their own, so a reader thread hands them over without
   * a copy (and the main thread writes them to PostgreSQL as they are).
   */
  data: Uint8Array;
  rows: number;
}

/**
 * Text → UTF-8 in an ArrayBuffer of its own (never Node's shared pool): transferable. From `pool`
 * when given: the page is a view of the first bytes of a reusable buffer (its whole ArrayBuffer
 * travels, and goes back to the pool once written).
 */
export function ownBytes(text: string, pool?: BufferPool): Uint8Array {
  const size = Buffer.byteLength(text);
  const bytes = pool ? pool.take(size) : Buffer.allocUnsafeSlow(size);
  bytes.write(text);
  return new Uint8Array(bytes.buffer, 0, size);
}

export type EncodedPage = ArrayPage | CopyPage;

/** Kinds whose values go into the array literal quoted (they may hold any character). */
const QUOTED: ReadonlySet<FieldKind> = new Set(["char", "text", "html", "selection", "json", "many2many"]);
const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/** One element of an array literal: NULL, a bare token, or a quoted string with `"` and `\` escaped. */
const element = (text: string | null, quoted: boolean): string => {
  if (text === null) return "NULL";
  if (!quoted) return text;
  return NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPE, "\\$&")}"` : `"${text}"`;
};

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** One field of a COPY text line: `\N`, or the text with backslash, tab, newline and CR escaped. */
const copyField = (text: string | null, quoted: boolean): string => {
  if (text === null) return "\\N";
  if (!quoted || !COPY_SPECIAL.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c] as string);
};

/**
 * A transformer for the fields this server has (`columns`). `currencyDecimals` maps a currency id
 * to its decimals; amounts whose currency is unknown are kept exact.
 */
export function createTransformer(
  model: string,
  columns: FieldSpec[],
  currencyDecimals: ReadonlyMap<number, number>,
): Transformer {
  const ids = new Set(columns.map((c) => c.name));
  const quoted = columns.map((c) => QUOTED.has(c.kind));
  /** The raw values a record is read into: `id`, then each column's field. */
  const visitorFields = ["id", ...columns.map((c) => c.name)];
  /** Per column, where its monetary amount's currency is in the raw values (0: none on this server). */
  const currencyAt = columns.map((c) =>
    c.currency && ids.has(c.currency) ? visitorFields.indexOf(c.currency) : 0,
  );
  const idOnly = [false, ...columns.map((c) => c.kind === "many2one")];
  const writeDateAt = visitorFields.indexOf("write_date");
  /** A record object's raw values (the object path). */
  const raw: unknown[] = new Array(visitorFields.length);
  const rawOf = (record: Record<string, unknown>): unknown[] => {
    raw[0] = record.id;
    for (let i = 0; i < columns.length; i++) raw[i + 1] = record[(columns[i] as FieldSpec).name];
    return raw;
  };
  /** PostgreSQL input text of each column's value for the last record (null: SQL NULL). */
  const values: (string | null)[] = new Array(columns.length).fill(null);
  /** The last record's problems (rejections and cleanings); `rejected`: it cannot be written. */
  let problems: Problem[] | undefined;
  let rejected = false;

  /** Records why record `id` cannot be written (in `problems`); the value is written as nothing. */
  function badValue(id: number, field: FieldSpec, expected: string, value: unknown): null {
    problems ??= [];
    problems.push({ model, id, field: field.name, expected, value: show(value), action: "rejected" });
    rejected = true;
    return null;
  }

  /** A text without its control characters, the change recorded (in `problems`). */
  function cleanText(id: number, field: FieldSpec, value: string): string {
    problems ??= [];
    problems.push({
      model,
      id,
      field: field.name,
      expected: "text without control characters (removed)",
      value: show(value),
      action: "cleaned",
    });
    return value.replace(CONTROLS, "");
  }

  /**
   * Fills `values` from one record's raw values (`raw[0]` its id, `raw[i + 1]` column i's value, as
   * `visitorFields` lists them); returns its id, or undefined when it cannot be written (why in
   * `problems`, which also lists what was cleaned).
   */
  function convert(raw: readonly unknown[]): number | undefined {
    problems = undefined;
    rejected = false;
    const id = raw[0];
    if (typeof id !== "number" || !Number.isInteger(id) || id <= 0 || id > INT_MAX) {
      problems = [
        {
          model,
          id: 0,
          field: "id",
          expected: "a positive integer below 2^31",
          value: show(id),
          action: "rejected",
        },
      ];
      rejected = true;
      return undefined;
    }
    for (let i = 0; i < columns.length; i++) {
      const field = columns[i] as FieldSpec;
      // Odoo marshals an empty value as false and never sends None; a null (XML-RPC <nil/> or JSON
      // null from another Odoo-compatible server) means the same empty value.
      const sent = raw[i + 1];
      const value = sent === null ? false : sent;
      let text: string | null;
      if (value === undefined) {
        text = badValue(id, field, `a value (the server did not return ${field.name})`, value);
      } else {
        switch (field.kind) {
          case "char":
          case "text":
          case "html":
          case "selection":
            if (value === false) text = null;
            else if (typeof value === "string")
              text = CONTROL.test(value) ? cleanText(id, field, value) : value;
            else text = badValue(id, field, "text or false", value);
            break;
          case "integer":
            if (value === false) text = null;
            else if (typeof value === "number" && Number.isSafeInteger(value) && Math.abs(value) < 2 ** 31)
              text = String(value);
            else text = badValue(id, field, "an integer between -2^31 and 2^31", value);
            break;
          case "float":
            if (value === false) text = null;
            else if (typeof value === "number" && Number.isFinite(value)) text = decimalText(value);
            else text = badValue(id, field, "a number", value);
            break;
          case "monetary": {
            if (value === false) {
              text = null;
              break;
            }
            if (typeof value !== "number" || !Number.isFinite(value)) {
              text = badValue(id, field, "a number", value);
              break;
            }
            const exact = decimalText(value);
            const at = currencyAt[i] as number;
            const currency = at > 0 ? many2oneId(raw[at]) : null;
            const decimals = currency ? currencyDecimals.get(currency) : undefined;
            const dot = exact.indexOf(".");
            text =
              decimals === undefined || dot < 0 || exact.length - dot - 1 <= decimals
                ? exact
                : roundDecimal(exact, decimals);
            break;
          }
          case "boolean":
            if (typeof value === "boolean") text = value ? "true" : "false";
            else text = badValue(id, field, "true or false", value);
            break;
          case "date": {
            if (value === false) {
              text = null;
              break;
            }
            const m = typeof value === "string" ? DATE.exec(value) : null;
            if (m && dateExists(Number(m[1]), Number(m[2]), Number(m[3]))) text = value as string;
            else text = badValue(id, field, "a date that exists, YYYY-MM-DD, or false", value);
            break;
          }
          case "datetime": {
            if (value === false) {
              text = null;
              break;
            }
            const m = typeof value === "string" ? DATETIME.exec(value) : null;
            if (m && dateExists(Number(m[2]), Number(m[3]), Number(m[4])))
              text = `${m[1]}T${m[5]}${m[7] ?? ""}Z`;
            else
              text = badValue(
                id,
                field,
                "a datetime that exists, YYYY-MM-DD HH:MM:SS (UTC), or false",
                value,
              );
            break;
          }
          case "many2one": {
            if (value === false) {
              text = null;
              break;
            }
            const ref = many2oneId(value);
            text =
              ref !== null
                ? String(ref)
                : badValue(id, field, "[id, name], an id below 2^31, or false", value);
            break;
          }
          case "many2many":
            if (value === false) text = "{}";
            else if (
              Array.isArray(value) &&
              value.every((v) => typeof v === "number" && Number.isInteger(v) && v > 0 && v <= INT_MAX)
            )
              text = `{${value.join(",")}}`;
            else text = badValue(id, field, "a list of ids below 2^31", value);
            break;
          case "json": {
            if (value === false) {
              text = null;
              break;
            }
            const json = typeof value === "object" && value !== null ? JSON.stringify(value) : undefined;
            text =
              json !== undefined && !json.includes("\\u0000") && !LONE_SURROGATE.test(json)
                ? json
                : badValue(
                    id,
                    field,
                    "a JSON object PostgreSQL can store (no NUL, no lone surrogate) or false",
                    value,
                  );
            break;
          }
        }
      }
      values[i] = text;
    }
    return rejected ? undefined : id;
  }

  /** What `values[i]` means as a JavaScript value (the row tests and tools see). */
  const decode = (field: FieldSpec, text: string | null): unknown => {
    if (text === null) return null;
    switch (field.kind) {
      case "integer":
      case "many2one":
        return Number(text);
      case "boolean":
        return text === "true";
      case "many2many":
        return text === "{}" ? [] : text.slice(1, -1).split(",").map(Number);
      case "json":
        return JSON.parse(text);
      default:
        return text;
    }
  };

  /** Builds a page from raw records, one at a time. */
  const builder = (format: "arrays" | "copy", bytes?: BufferPool) => {
    const idList: string[] = [];
    const lists: string[][] = format === "arrays" ? columns.map(() => []) : [];
    let text = "";
    let rows = 0;
    return {
      /** Adds a record; false (and its problems in `problems`) when it cannot be written. */
      add(rawValues: readonly unknown[]): boolean {
        const id = convert(rawValues);
        if (id === undefined) return false;
        if (format === "arrays") {
          idList.push(String(id));
          for (let i = 0; i < lists.length; i++) {
            (lists[i] as string[]).push(element(values[i] ?? null, quoted[i] as boolean));
          }
        } else {
          let line = String(id);
          for (let i = 0; i < values.length; i++) {
            line += `\t${copyField(values[i] ?? null, quoted[i] as boolean)}`;
          }
          text += `${line}\n`;
          rows++;
        }
        return true;
      },
      page(): EncodedPage {
        return format === "arrays"
          ? {
              format: "arrays",
              columns: [`{${idList.join(",")}}`, ...lists.map((list) => `{${list.join(",")}}`)],
              rows: idList.length,
            }
          : { format: "copy", data: ownBytes(text, bytes), rows };
      },
    };
  };

  const encodeWith = (
    format: "arrays" | "copy",
    records: readonly Record<string, unknown>[],
    onProblems: (problems: Problem[]) => void,
    bytes?: BufferPool,
  ): EncodedPage => {
    const page = builder(format, bytes);
    for (const record of records) {
      page.add(rawOf(record));
      if (problems) onProblems(problems);
    }
    return page.page();
  };

  return {
    columns,
    encode: (records, onProblems) => encodeWith("arrays", records, onProblems) as ArrayPage,
    encodeCopy: (records, onProblems, bytes) => encodeWith("copy", records, onProblems, bytes) as CopyPage,
    visitor(format, bytes) {
      const page = builder(format, bytes);
      const found: Problem[] = [];
      let fetched = 0;
      let lastId: unknown;
      let lastWrite: unknown;
      let newest: string | undefined;
      return {
        fields: visitorFields,
        idOnly,
        record(rawValues) {
          fetched++;
          lastId = rawValues[0];
          if (writeDateAt >= 0) {
            const w = rawValues[writeDateAt];
            lastWrite = w;
            if (typeof w === "string" && w.length >= 19 && (newest === undefined || w > newest)) newest = w;
          }
          page.add(rawValues);
          if (problems) found.push(...problems);
        },
        finish: () => ({
          encoded: page.page(),
          problems: found,
          fetched,
          lastId: typeof lastId === "number" ? lastId : null,
          lastWriteDate: lastWrite,
          newestWriteDate: newest,
        }),
      };
    },
    row(record) {
      const id = convert(rawOf(record));
      if (id === undefined) return { problems: problems ?? [] };
      const row: Row = { id };
      for (let i = 0; i < columns.length; i++) {
        const field = columns[i] as FieldSpec;
        row[field.name] = decode(field, values[i] ?? null);
      }
      return problems ? { row, problems } : { row };
    },
  };
}

function many2oneId(value: unknown): number | null {
  const id = Array.isArray(value) ? value[0] : value;
  return typeof id === "number" && Number.isInteger(id) && id > 0 && id <= INT_MAX ? id : null;
}
