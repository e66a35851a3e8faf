import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  assertRegistry,
  COLUMN_TYPES,
  columnsOf,
  type FieldKind,
  REGISTRY,
  tableOf,
} from "../src/registry.js";
import { createTransformer, roundDecimal } from "../src/transform.js";

const TS_TYPES: Record<FieldKind, string> = {
  char: "string",
  text: "string",
  html: "string",
  selection: "string",
  integer: "number",
  float: "string",
  monetary: "string",
  boolean: "boolean",
  date: "string",
  datetime: "Date",
  many2one: "number",
  many2many: "number[]",
  json: "Json",
};

const pascal = (model: string) =>
  model
    .split(/[._]/)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join("");

/** packages/db/src/tables/odoo.ts as the registry implies it. */
function renderOdooTables(): string {
  const lines = [
    "/**",
    " * The synced copy of Odoo, schema `odoo`: one table per model of the ETL's registry",
    " * (apps/etl-worker/src/registry.ts), id = the Odoo id, one column per field under Odoo's name,",
    " * plus `_synced_at` and `_deleted_at` (set when the record is gone from Odoo). Generated from the",
    " * registry: apps/etl-worker/test/registry.test.ts fails when they differ (UPDATE_ODOO_TABLES=1",
    " * rewrites this file). numeric columns arrive as exact decimal strings, dates as 'YYYY-MM-DD'.",
    " * Columns of fields a given Odoo version lacks (e.g. `checked` before 18) stay NULL.",
    " */",
    "",
    "export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };",
    "",
  ];
  for (const spec of REGISTRY) {
    lines.push(
      `/** Odoo \`${spec.model}\`. */`,
      `export interface Odoo${pascal(spec.model)}Table {`,
      "  id: number;",
    );
    for (const c of columnsOf(spec)) lines.push(`  ${c.name}: ${TS_TYPES[c.kind]} | null;`);
    lines.push("  _synced_at: Date;", "  _deleted_at: Date | null;", "}", "");
  }
  lines.push("export interface OdooTables {");
  for (const spec of REGISTRY) lines.push(`  "odoo.${tableOf(spec.model)}": Odoo${pascal(spec.model)}Table;`);
  lines.push("}", "");
  return lines.join("\n");
}

describe("model registry", () => {
  it("is consistent: each model once, each column once, write_date everywhere", () => {
    expect(() => assertRegistry()).not.toThrow();
    expect(() => assertRegistry([...REGISTRY, REGISTRY[0]!])).toThrow(/declared twice/);
    expect(REGISTRY.map((m) => m.model)).toEqual([
      "res.company",
      "res.currency",
      "res.partner",
      "account.account",
      "account.journal",
      "account.analytic.account",
      "account.move",
      "account.move.line",
      "account.payment",
      "account.partial.reconcile",
    ]);
    for (const spec of REGISTRY) {
      for (const c of columnsOf(spec)) {
        expect(COLUMN_TYPES[c.kind]).not.toMatch(/float|double|real/);
        if (c.kind === "monetary") expect(c.currency, `${spec.model}.${c.name}`).toBeTruthy();
      }
    }
  });

  it("matches the table types in @finanzas/db (packages/db/src/tables/odoo.ts)", () => {
    const file = new URL("../../../packages/db/src/tables/odoo.ts", import.meta.url);
    const expected = renderOdooTables();
    if (process.env.UPDATE_ODOO_TABLES === "1") writeFileSync(file, expected);
    expect(readFileSync(file, "utf8")).toBe(expected);
  });
});

describe("value mapping", () => {
  it("rounds amounts half away from zero to the currency's decimals, exactly", () => {
    expect(roundDecimal("2.675", 2)).toBe("2.68");
    expect(roundDecimal("-2.675", 2)).toBe("-2.68");
    expect(roundDecimal("0.30000000000000004", 2)).toBe("0.3");
    expect(roundDecimal("9.995", 2)).toBe("10");
    expect(roundDecimal("-0.001", 2)).toBe("0");
    expect(roundDecimal("1234.5", 0)).toBe("1235");
    expect(roundDecimal("100", 2)).toBe("100");
    expect(roundDecimal("12345678901234567890.125", 2)).toBe("12345678901234567890.13");
  });

  it("maps Odoo values and reports values of an unexpected type with model, id and field", () => {
    const t = createTransformer(
      "account.move",
      [
        { name: "name", kind: "char" },
        { name: "partner_id", kind: "many2one" },
        { name: "amount_total", kind: "monetary", currency: "currency_id" },
        { name: "currency_id", kind: "many2one" },
        { name: "date", kind: "date" },
        { name: "write_date", kind: "datetime" },
        { name: "checked", kind: "boolean" },
        { name: "analytic_distribution", kind: "json" },
        { name: "tax_ids", kind: "many2many" },
      ],
      new Map([[1, 2]]),
    );
    const ok = t.row({
      id: 7,
      name: false,
      partner_id: [3, "Azure"],
      amount_total: 0.1 + 0.2,
      currency_id: [1, "EUR"],
      date: "2024-02-29",
      write_date: "2024-03-01 10:00:05",
      checked: false,
      analytic_distribution: { "12,37": 100 },
      tax_ids: [],
    });
    expect(ok.row).toEqual({
      id: 7,
      name: null,
      partner_id: 3,
      amount_total: "0.3",
      currency_id: 1,
      date: "2024-02-29",
      write_date: "2024-03-01T10:00:05Z",
      checked: false,
      analytic_distribution: { "12,37": 100 },
      tax_ids: [],
    });
    const bad = t.row({
      id: 8,
      name: 5,
      partner_id: "3",
      amount_total: "12.00",
      currency_id: false,
      date: "29/02/2024",
      write_date: false,
      checked: 0,
      analytic_distribution: false,
      tax_ids: [],
    });
    expect(bad.problems?.map((p) => `${p.model} ${p.id} ${p.field}`)).toEqual([
      "account.move 8 name",
      "account.move 8 partner_id",
      "account.move 8 amount_total",
      "account.move 8 date",
      "account.move 8 checked",
    ]);
  });
});

describe("decimal text", () => {
  it("is Odoo's exact digits for every double, exponent ranges included", () => {
    const t = createTransformer("x", [{ name: "q", kind: "float" }], new Map());
    for (const [value, text] of [
      [1e21, "1000000000000000000000"],
      [1e-7, "0.0000001"],
      [-0, "0"],
      [0.1 + 0.2, "0.30000000000000004"],
      [100, "100"],
      [-12.5, "-12.5"],
    ] as const) {
      expect(t.row({ id: 1, q: value }).row?.q).toBe(text);
    }
  });
});
