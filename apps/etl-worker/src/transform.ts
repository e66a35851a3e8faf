/**
 * Odoo values → PostgreSQL column values, one place, driven by the registry's field kinds.
 * Odoo's `false` for an empty value becomes NULL (except on booleans, where it is the value);
 * many2one `[id, "name"]` becomes the id; floats become their exact decimal text (Odoo's shortest
 * round-trip digits), monetary amounts rounded half away from zero to their currency's decimals;
 * datetimes (UTC, no zone) become ISO 8601 with `Z`. A value of any other type is a Problem, never
 * coerced: the record is not written and the problem is reported with model, id and field.
 */
import { toDecimalString } from "@finanzas/odoo";
import type { FieldSpec } from "./registry.js";

export interface Problem {
  model: string;
  id: number;
  field: string;
  expected: string;
  /** The offending value, shortened. */
  value: string;
}

export type Row = Record<string, unknown> & { id: number };

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,6})?$/;

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
   * Maps a page of records straight to the JSON array text the upsert reads (no intermediate row
   * objects: the hot path of a sync). Records with a value of an unexpected type are left out and
   * their problems handed to `onProblems`.
   */
  encode(records: readonly Record<string, unknown>[], onProblems: (problems: Problem[]) => void): EncodedPage;
  /** Maps one record; returns the row (the parsed JSON of `encode`), or the problems that keep it from being written. */
  row(
    record: Record<string, unknown>,
  ): { row: Row; problems?: undefined } | { row?: undefined; problems: Problem[] };
}

export interface EncodedPage {
  /** A JSON array of row objects: ids and integers as numbers, amounts as exact decimal strings. */
  json: string;
  /** How many rows it holds. */
  rows: number;
}

/** JSON text of a string known to need no escaping (validated dates and datetimes). */
const quoted = (text: string) => `"${text}"`;

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
  // `,"name":` for every column, built once.
  const keys = columns.map((c) => `,${JSON.stringify(c.name)}:`);
  let problems: Problem[] | undefined;

  /** One record's JSON object text, or undefined when it has problems (collected in `problems`). */
  function encodeRecord(record: Record<string, unknown>): string | undefined {
    problems = undefined;
    const id = record.id;
    if (typeof id !== "number" || !Number.isInteger(id) || id <= 0) {
      problems = [{ model, id: 0, field: "id", expected: "a positive integer", value: show(id) }];
      return undefined;
    }
    const bad = (field: FieldSpec, expected: string, value: unknown) => {
      problems ??= [];
      problems.push({ model, id, field: field.name, expected, value: show(value) });
      return "null";
    };
    let out = `{"id":${id}`;
    for (let i = 0; i < columns.length; i++) {
      const field = columns[i] as FieldSpec;
      const value = record[field.name];
      let text: string;
      if (value === undefined) {
        text = bad(field, `a value (the server did not return ${field.name})`, value);
      } else {
        switch (field.kind) {
          case "char":
          case "text":
          case "html":
          case "selection":
            if (value === false) text = "null";
            else if (typeof value === "string" && !value.includes("\u0000")) text = JSON.stringify(value);
            else text = bad(field, "text or false", value);
            break;
          case "integer":
            if (value === false) text = "null";
            else if (typeof value === "number" && Number.isSafeInteger(value) && Math.abs(value) < 2 ** 31)
              text = String(value);
            else text = bad(field, "an integer", value);
            break;
          case "float":
            if (value === false) text = "null";
            else if (typeof value === "number" && Number.isFinite(value)) text = quoted(decimalText(value));
            else text = bad(field, "a number", value);
            break;
          case "monetary": {
            if (value === false) {
              text = "null";
              break;
            }
            if (typeof value !== "number" || !Number.isFinite(value)) {
              text = bad(field, "a number", value);
              break;
            }
            const exact = decimalText(value);
            const currency =
              field.currency && ids.has(field.currency) ? many2oneId(record[field.currency]) : null;
            const decimals = currency ? currencyDecimals.get(currency) : undefined;
            const dot = exact.indexOf(".");
            text = quoted(
              decimals === undefined || dot < 0 || exact.length - dot - 1 <= decimals
                ? exact
                : roundDecimal(exact, decimals),
            );
            break;
          }
          case "boolean":
            if (typeof value === "boolean") text = value ? "true" : "false";
            else text = bad(field, "true or false", value);
            break;
          case "date":
            if (value === false) text = "null";
            else if (typeof value === "string" && DATE.test(value)) text = quoted(value);
            else text = bad(field, "a date YYYY-MM-DD or false", value);
            break;
          case "datetime": {
            if (value === false) {
              text = "null";
              break;
            }
            const m = typeof value === "string" ? DATETIME.exec(value) : null;
            if (m) text = `"${m[1]}T${m[2]}${m[3] ?? ""}Z"`;
            else text = bad(field, "a datetime YYYY-MM-DD HH:MM:SS (UTC) or false", value);
            break;
          }
          case "many2one": {
            if (value === false) {
              text = "null";
              break;
            }
            const ref = many2oneId(value);
            text = ref !== null ? String(ref) : bad(field, "[id, name], an id or false", value);
            break;
          }
          case "many2many":
            if (value === false) text = "[]";
            else if (Array.isArray(value) && value.every((v) => typeof v === "number" && Number.isInteger(v)))
              text = `[${value.join(",")}]`;
            else text = bad(field, "a list of ids", value);
            break;
          case "json": {
            if (value === false) {
              text = "null";
              break;
            }
            const json = typeof value === "object" && value !== null ? JSON.stringify(value) : undefined;
            text =
              json !== undefined && !json.includes("\\u0000")
                ? json
                : bad(field, "a JSON object or false", value);
            break;
          }
        }
      }
      out += keys[i] + text;
    }
    return problems ? undefined : `${out}}`;
  }

  return {
    columns,
    encode(records, onProblems) {
      let json = "[";
      let rows = 0;
      for (const record of records) {
        const text = encodeRecord(record);
        if (text === undefined) {
          onProblems(problems ?? []);
          continue;
        }
        json += rows === 0 ? text : `,${text}`;
        rows++;
      }
      return { json: `${json}]`, rows };
    },
    row(record) {
      const text = encodeRecord(record);
      return text === undefined ? { problems: problems ?? [] } : { row: JSON.parse(text) as Row };
    },
  };
}

function many2oneId(value: unknown): number | null {
  const id = Array.isArray(value) ? value[0] : value;
  return typeof id === "number" && Number.isInteger(id) && id > 0 ? id : null;
}
