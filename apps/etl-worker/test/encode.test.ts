import { CompiledQuery, createDb, type Db } from "@finanzas/db";
import { createTestDatabase, type TestDatabase } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertStatement } from "../src/load.js";
import type { FieldSpec } from "../src/registry.js";
import { ensureModelTables } from "../src/schema.js";
import { createTransformer } from "../src/transform.js";

/*
 * A page travels to PostgreSQL as one array literal per column, unnested into rows. Whatever a
 * text holds (quotes, backslashes, braces, commas, the word NULL, blanks, newlines, any script),
 * PostgreSQL must read back exactly what Odoo sent.
 */

const HOSTILE = [
  "",
  " ",
  "  padded  ",
  "NULL",
  "null",
  'say "hi"',
  "back\\slash",
  "\\",
  '\\"',
  "{braces}",
  "{",
  "}",
  "a,b",
  "tab\there",
  "line\nbreak\r\n",
  "O'Brien <Partners> & Co",
  "Ærøskøbing Ünïcödé 北京 🧾",
  "ends with backslash\\",
  "'; drop table odoo.account_move; --",
];

const columns: FieldSpec[] = [
  { name: "name", kind: "char" },
  { name: "ref", kind: "char" },
  { name: "narration", kind: "html" },
  { name: "amount_total", kind: "monetary", currency: "currency_id" },
  { name: "currency_id", kind: "many2one" },
  { name: "date", kind: "date" },
  { name: "write_date", kind: "datetime" },
  { name: "checked", kind: "boolean" },
];

let database: TestDatabase;
let store: Db;
beforeAll(async () => {
  database = await createTestDatabase("etl_encode");
  store = createDb({ url: database.url, max: 2 });
  await ensureModelTables(store.db);
}, 60_000);
afterAll(async () => {
  await store?.close();
  await database?.drop();
});

describe("array-literal pages", () => {
  it("land every hostile text, NULL and value exactly as sent", async () => {
    const records = HOSTILE.map((text, i) => ({
      id: i + 1,
      name: text,
      ref: i % 3 === 0 ? false : `${text}|${i}`,
      narration: i % 2 ? text : false,
      amount_total: i % 4 === 0 ? false : 1234.5 + i / 100,
      currency_id: [1, "EUR"],
      date: i % 5 === 0 ? false : "2024-02-29",
      write_date: "2024-03-01 10:00:05",
      checked: i % 2 === 0,
    }));
    const t = createTransformer("account.move", columns, new Map([[1, 2]]));
    const page = t.encode(records, () => {
      throw new Error("no problems expected");
    });
    expect(page.rows).toBe(records.length);
    await store.db.executeQuery(CompiledQuery.raw(upsertStatement("account.move", columns), page.columns));
    const { rows } = await store.pool.query(
      `select id, name, ref, narration, amount_total::text, currency_id, date::text, write_date, checked
       from odoo.account_move order by id`,
    );
    expect(rows).toHaveLength(records.length);
    for (const [i, record] of records.entries()) {
      const row = rows[i];
      const want = t.row(record).row;
      expect(row.name, JSON.stringify(record.name)).toBe(record.name);
      expect(row.ref).toBe(record.ref === false ? null : record.ref);
      expect(row.narration).toBe(record.narration === false ? null : record.narration);
      expect(row.amount_total).toBe(want?.amount_total === null ? null : want?.amount_total);
      expect(row.date).toBe(want?.date);
      expect(new Date(row.write_date).toISOString()).toBe("2024-03-01T10:00:05.000Z");
      expect(row.checked).toBe(record.checked);
    }
  });

  it("carries id lists and JSON, empty ones included", async () => {
    const cols: FieldSpec[] = [
      { name: "tax_ids", kind: "many2many" },
      { name: "analytic_distribution", kind: "json" },
    ];
    const distributions = [false, {}, { "12,37": 100 }, { '7"x\\': 33.33, "8": 66.67 }];
    const records = distributions.map((d, i) => ({
      id: i + 1,
      tax_ids: i === 0 ? false : Array.from({ length: i }, (_, k) => k + 10),
      analytic_distribution: d,
    }));
    const t = createTransformer("account.move.line", cols, new Map());
    const page = t.encode(records, () => {});
    await store.db.executeQuery(CompiledQuery.raw(upsertStatement("account.move.line", cols), page.columns));
    const { rows } = await store.pool.query(
      "select id, tax_ids, analytic_distribution from odoo.account_move_line order by id",
    );
    expect(rows.map((r) => r.tax_ids)).toEqual([[], [10], [10, 11], [10, 11, 12]]);
    expect(rows.map((r) => r.analytic_distribution)).toEqual([
      null,
      {},
      { "12,37": 100 },
      { '7"x\\': 33.33, "8": 66.67 },
    ]);
  });

  it("leaves out a record with a bad value and reports it, writing the rest", () => {
    const t = createTransformer("account.move", columns.slice(0, 2), new Map());
    const problems: string[] = [];
    const page = t.encode(
      [
        { id: 1, name: "ok", ref: false },
        { id: 2, name: 5, ref: "x" },
        { id: 3, name: "also ok", ref: "y" },
      ],
      (found) => problems.push(...found.map((p) => `${p.id} ${p.field}`)),
    );
    expect(problems).toEqual(["2 name"]);
    expect(page.rows).toBe(2);
    expect(page.columns).toEqual(["{1,3}", '{"ok","also ok"}', '{NULL,"y"}']);
  });
});
