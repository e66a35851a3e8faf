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
import { REPORT_SOURCES } from "../src/report-records.js";

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
    " * (packages/ledger/src/registry.ts), id = the Odoo id, one column per field under Odoo's name,",
    " * plus `_synced_at` and `_deleted_at` (set when the record is gone from Odoo). Generated from the",
    " * registry: packages/ledger/test/registry.test.ts fails when they differ (UPDATE_ODOO_TABLES=1",
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

describe("report sources", () => {
  it("names only models the ETL syncs, so a report's wait for their first sync can end", () => {
    const synced = new Set(REGISTRY.map((m) => m.model));
    for (const [kind, models] of Object.entries(REPORT_SOURCES)) {
      expect(
        models.filter((m) => !synced.has(m)),
        kind,
      ).toEqual([]);
      expect(models, kind).toContain("account.move.line");
    }
  });
});
