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
  /** Maps one record; returns the row, or the problems that keep it from being written. */
  row(
    record: Record<string, unknown>,
  ): { row: Row; problems?: undefined } | { row?: undefined; problems: Problem[] };
}

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
  return {
    columns,
    row(record) {
      const id = record.id;
      if (typeof id !== "number" || !Number.isInteger(id) || id <= 0) {
        return { problems: [{ model, id: 0, field: "id", expected: "a positive integer", value: show(id) }] };
      }
      const out: Row = { id };
      let problems: Problem[] | undefined;
      const bad = (field: FieldSpec, expected: string, value: unknown) => {
        problems ??= [];
        problems.push({ model, id, field: field.name, expected, value: show(value) });
      };
      for (const field of columns) {
        const value = record[field.name];
        if (value === undefined) {
          bad(field, `a value (the server did not return ${field.name})`, value);
          continue;
        }
        switch (field.kind) {
          case "char":
          case "text":
          case "html":
          case "selection":
            if (value === false) out[field.name] = null;
            else if (typeof value === "string" && !value.includes("\u0000")) out[field.name] = value;
            else bad(field, "text or false", value);
            break;
          case "integer":
            if (value === false) out[field.name] = null;
            else if (typeof value === "number" && Number.isSafeInteger(value) && Math.abs(value) < 2 ** 31)
              out[field.name] = value;
            else bad(field, "an integer", value);
            break;
          case "float":
            if (value === false) out[field.name] = null;
            else if (typeof value === "number" && Number.isFinite(value))
              out[field.name] = decimalText(value);
            else bad(field, "a number", value);
            break;
          case "monetary": {
            if (value === false) {
              out[field.name] = null;
              break;
            }
            if (typeof value !== "number" || !Number.isFinite(value)) {
              bad(field, "a number", value);
              break;
            }
            const exact = decimalText(value);
            const currency =
              field.currency && ids.has(field.currency) ? many2oneId(record[field.currency]) : null;
            const decimals = currency ? currencyDecimals.get(currency) : undefined;
            const dot = exact.indexOf(".");
            out[field.name] =
              decimals === undefined || dot < 0 || exact.length - dot - 1 <= decimals
                ? exact
                : roundDecimal(exact, decimals);
            break;
          }
          case "boolean":
            if (typeof value === "boolean") out[field.name] = value;
            else bad(field, "true or false", value);
            break;
          case "date":
            if (value === false) out[field.name] = null;
            else if (typeof value === "string" && DATE.test(value)) out[field.name] = value;
            else bad(field, "a date YYYY-MM-DD or false", value);
            break;
          case "datetime": {
            if (value === false) {
              out[field.name] = null;
              break;
            }
            const m = typeof value === "string" ? DATETIME.exec(value) : null;
            if (m) out[field.name] = `${m[1]}T${m[2]}${m[3] ?? ""}Z`;
            else bad(field, "a datetime YYYY-MM-DD HH:MM:SS (UTC) or false", value);
            break;
          }
          case "many2one": {
            if (value === false) {
              out[field.name] = null;
              break;
            }
            const ref = many2oneId(value);
            if (ref !== null) out[field.name] = ref;
            else bad(field, "[id, name], an id or false", value);
            break;
          }
          case "many2many":
            if (value === false) out[field.name] = [];
            else if (Array.isArray(value) && value.every((v) => typeof v === "number" && Number.isInteger(v)))
              out[field.name] = value;
            else bad(field, "a list of ids", value);
            break;
          case "json":
            if (value === false) out[field.name] = null;
            else if (
              typeof value === "object" &&
              value !== null &&
              !JSON.stringify(value).includes("\\u0000")
            )
              out[field.name] = value;
            else bad(field, "a JSON object or false", value);
            break;
        }
      }
      return problems ? { problems } : { row: out };
    },
  };
}

function many2oneId(value: unknown): number | null {
  const id = Array.isArray(value) ? value[0] : value;
  return typeof id === "number" && Number.isInteger(id) && id > 0 ? id : null;
}
