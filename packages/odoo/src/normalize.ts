/**
 * Odoo values → plain values, in one place, driven by `fields_get` metadata.
 *
 * | field type                           | Odoo sends                  | normalised                                   |
 * | ------------------------------------ | --------------------------- | -------------------------------------------- |
 * | boolean                              | true / false                | unchanged                                    |
 * | many2one                             | [id, "name"] / id / false   | id or null; with `keepDisplayName` also `<field>_display`: name or null |
 * | one2many, many2many                  | [id, …]                     | unchanged (false → [])                       |
 * | date                                 | "YYYY-MM-DD" / false        | unchanged or null                            |
 * | datetime                             | "YYYY-MM-DD HH:MM:SS" (UTC) | `"YYYY-MM-DDTHH:MM:SSZ"` (or a Date with `datetimes: "date"`) or null |
 * | integer                              | int                         | unchanged (false → null)                     |
 * | float, monetary                      | double                      | number, or its exact decimal text with `decimals: "string"` (see toDecimalString) |
 * | char, text, html, selection, binary, reference | text / false      | text or null                                 |
 * | json, properties                     | object / false              | object or null                               |
 *
 * Fields missing from `fieldsMeta` pass through, except `false` → null.
 */
import type { FieldsMeta } from "./client.js";
import { toDecimalString } from "./decimal.js";

export interface NormalizeOptions {
  /** Also write `<field><displaySuffix>` with a many2one's display name. Default false. */
  keepDisplayName?: boolean;
  /** Suffix of the display-name field. Default `"_display"`. */
  displaySuffix?: string;
  /** `"iso"` (default): `2024-03-01T12:00:00Z`; `"date"`: a Date; `"odoo"`: unchanged `2024-03-01 12:00:00`. */
  datetimes?: "iso" | "date" | "odoo";
  /** `"number"` (default) or `"string"`: float/monetary as exact decimal text (`"1234.5"`), for `numeric` columns. */
  decimals?: "number" | "string";
}

export type NormalizedRecord = Record<string, unknown>;

const ODOO_DATETIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?$/;

/** Odoo's UTC datetime text `YYYY-MM-DD HH:MM:SS` → ISO 8601 with `Z`. Other text is returned unchanged. */
export function odooDatetimeToIso(value: string): string {
  const m = ODOO_DATETIME.exec(value);
  return m ? `${m[1]}T${m[2]}${m[3] ?? ""}Z` : value;
}

function normalizeValue(type: string | undefined, value: unknown, o: NormalizeOptions): unknown {
  switch (type) {
    case "boolean":
      return value;
    case "many2one":
    case "many2one_reference":
      if (value === false || value === null) return null;
      if (Array.isArray(value)) return value[0] ?? null;
      return value;
    case "one2many":
    case "many2many":
      return value === false || value === null ? [] : value;
    case "datetime":
      if (typeof value !== "string") return value === false ? null : value;
      if (o.datetimes === "odoo") return value;
      if (o.datetimes === "date") return new Date(odooDatetimeToIso(value));
      return odooDatetimeToIso(value);
    case "float":
    case "monetary":
      if (value === false || value === null) return null;
      if (o.decimals === "string" && typeof value === "number" && Number.isFinite(value))
        return toDecimalString(value);
      return value;
    default:
      return value === false ? null : value;
  }
}

/** One record, normalised (a new object; the input is not changed). */
export function normalizeRecord(
  fieldsMeta: FieldsMeta,
  record: Record<string, unknown>,
  options: NormalizeOptions = {},
): NormalizedRecord {
  const out: NormalizedRecord = {};
  const suffix = options.displaySuffix ?? "_display";
  for (const key of Object.keys(record)) {
    const value = record[key];
    const type = fieldsMeta[key]?.type;
    out[key] = normalizeValue(type, value, options);
    if (options.keepDisplayName && type === "many2one") {
      out[key + suffix] = Array.isArray(value) && typeof value[1] === "string" ? value[1] : null;
    }
  }
  return out;
}

/** `normalizeRecord` over a page of records. */
export const normalizeRecords = (
  fieldsMeta: FieldsMeta,
  records: readonly Record<string, unknown>[],
  options: NormalizeOptions = {},
): NormalizedRecord[] => records.map((r) => normalizeRecord(fieldsMeta, r, options));
