import { CompiledQuery, createDb, type Db } from "@finanzas/db";
import type { FieldSpec } from "@finanzas/ledger";
import { ensureModelTables } from "@finanzas/ledger";
import { createTestDatabase, type TestDatabase } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  copyBatch,
  copyStatements,
  type Lease,
  LeaseLostError,
  upsertStatement,
} from "../src/postgres/load.js";
import { tryAcquire } from "../src/postgres/locks.js";
import { createTransformer, type Transformer } from "../src/transform.js";

/*
 * A page travels to PostgreSQL as one array literal per column, unnested into rows, or (on a first
 * full pass) as COPY text. Whatever a text holds (quotes, backslashes, braces, commas, the word
 * NULL, blanks, tabs, newlines, any script), PostgreSQL must read back exactly what Odoo sent.
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
  "\\.",
  "\\N",
  "\\t not a tab",
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
const leases = new Map<string, Lease>();
beforeAll(async () => {
  database = await createTestDatabase("etl_encode");
  store = createDb({ url: database.url, max: 2 });
  await ensureModelTables(store.db);
  for (const model of ["account.move", "account.move.line"]) {
    const lease = await tryAcquire(store.db, model, "encode-test", 1, 300);
    if (!lease) throw new Error(`no lease on ${model}`);
    leases.set(model, lease);
  }
}, 60_000);

type Format = "arrays" | "copy";

/** Writes records the way a sync would in `format`; returns the rows written. */
async function writePage(
  format: Format,
  t: Transformer,
  model: string,
  cols: FieldSpec[],
  records: Record<string, unknown>[],
): Promise<number> {
  if (format === "arrays") {
    const page = t.encode(records, () => {});
    const result = await store.db.executeQuery(CompiledQuery.raw(upsertStatement(model, cols), page.columns));
    return Number(result.numAffectedRows ?? 0);
  }
  const page = t.encodeCopy(records, () => {});
  return copyBatch(store.pool, store.db, {
    model,
    statements: copyStatements(model, cols),
    page,
    lease: leases.get(model) as Lease,
  });
}
afterAll(async () => {
  await store?.close();
  await database?.drop();
});

describe.each(["arrays", "copy"] as const)("%s pages", (format) => {
  it("land every hostile text, NULL and value exactly as sent", async () => {
    await store.pool.query("truncate odoo.account_move, odoo.account_move_line");
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
    expect(await writePage(format, t, "account.move", columns, records)).toBe(records.length);
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
    await writePage(format, t, "account.move.line", cols, records);
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
});

describe("page encodings", () => {
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
    const copy = t.encodeCopy(
      [
        { id: 1, name: "ok", ref: false },
        { id: 2, name: 5, ref: "x" },
        { id: 3, name: "tab\there", ref: "y" },
      ],
      () => {},
    );
    expect(copy.rows).toBe(2);
    expect(Buffer.from(copy.data).toString()).toBe("1\tok\t\\N\n3\ttab\\there\ty\n");
  });
});

describe("empty values", () => {
  it("read a null (another server's <nil/> or JSON null) as Odoo's false, for every kind of field", () => {
    const kinds: FieldSpec[] = [
      { name: "name", kind: "char" },
      { name: "quantity", kind: "float" },
      { name: "amount", kind: "monetary", currency: "currency_id" },
      { name: "currency_id", kind: "many2one" },
      { name: "sequence", kind: "integer" },
      { name: "date", kind: "date" },
      { name: "write_date", kind: "datetime" },
      { name: "checked", kind: "boolean" },
      { name: "tax_ids", kind: "many2many" },
      { name: "analytic_distribution", kind: "json" },
    ];
    const t = createTransformer("account.move.line", kinds, new Map());
    const empty = (value: unknown) => Object.fromEntries(kinds.map((k) => [k.name, value]));
    const problems: unknown[] = [];
    const asNull = t.encode([{ id: 1, ...empty(null) }], (found) => problems.push(...found));
    const asFalse = t.encode([{ id: 1, ...empty(false) }], (found) => problems.push(...found));
    expect(problems).toEqual([]);
    expect(asNull.columns).toEqual(asFalse.columns);
    expect(asNull.columns).toEqual([
      "{1}",
      "{NULL}",
      "{NULL}",
      "{NULL}",
      "{NULL}",
      "{NULL}",
      "{NULL}",
      "{NULL}",
      "{false}",
      '{"{}"}',
      "{NULL}",
    ]);
  });
});

describe("COPY pages over rows that are already there", () => {
  const cols: FieldSpec[] = [{ name: "name", kind: "char" }];
  const t = createTransformer("account.move", cols, new Map());
  const names = async () =>
    (await store.pool.query("select id, name from odoo.account_move order by id")).rows.map(
      (r) => `${r.id}:${r.name}`,
    );

  it("fall back to the upsert when one of their ids was written meanwhile", async () => {
    await store.pool.query("truncate odoo.account_move");
    await writePage("arrays", t, "account.move", cols, [{ id: 2, name: "written by sync-records" }]);
    const written = await writePage("copy", t, "account.move", cols, [
      { id: 1, name: "one" },
      { id: 2, name: "two" },
      { id: 3, name: "three" },
    ]);
    expect(written).toBe(3);
    expect(await names()).toEqual(["1:one", "2:two", "3:three"]);
  });

  it("write nothing once the model's lease is lost", async () => {
    await store.pool.query("truncate odoo.account_move");
    const lost: Lease = { ...(leases.get("account.move") as Lease), owner: "someone else" };
    await expect(
      copyBatch(store.pool, store.db, {
        model: "account.move",
        statements: copyStatements("account.move", cols),
        page: t.encodeCopy([{ id: 9, name: "nine" }], () => {}),
        lease: lost,
        cursor: { full_last_id: 9 },
      }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await names()).toEqual([]);
    const cursor = await store.pool.query("select 1 from etl.cursors where model = 'account.move'");
    expect(cursor.rowCount).toBe(0);
  });
});
