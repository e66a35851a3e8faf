import { randomBytes } from "node:crypto";
import { createDb, type Db } from "@finanzas/db";
import { createLogger } from "@finanzas/logger";
import { createTestDatabase, type TestDatabase } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIndexKeeper, INVOICE_SEARCH, searchTextOf } from "../src/indexes.js";

/*
 * The read indexes where pg_trgm cannot be had: web-api connects as a role that owns the synced
 * tables but may not create extensions (not the database's owner), in a database without pg_trgm.
 * The other indexes are built, the trigram ones are given up on with a warning, and search works.
 */
describe("read indexes without pg_trgm", () => {
  const role = `finanzas_noext_${randomBytes(4).toString("hex")}`;
  let database: TestDatabase;
  let db: Db;
  const admin = async (url: string, text: string) => {
    const connection = createDb({ url, max: 1 });
    try {
      await connection.pool.query(text);
    } finally {
      await connection.close();
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase("indexes_noext");
    await admin(database.url, `create role ${role} login`);
    await admin(database.url, "drop extension if exists pg_trgm");
    await admin(
      database.url,
      `create schema if not exists odoo; grant usage, create on schema odoo to ${role}`,
    );
    const url = new URL(database.url);
    url.username = role;
    db = createDb({ url: url.toString(), max: 2 });
    // the synced tables, owned by web-api's role (as when one role runs everything)
    await db.pool.query(`create table odoo.account_move (id integer primary key, name text, ref text,
      payment_reference text, date date, invoice_date_due date, partner_id integer, _deleted_at timestamptz)`);
    await db.pool.query(
      `insert into odoo.account_move (id, name, ref, payment_reference) values
        (1, 'INV/2025/00001', 'F-100', 'INV/2025/00001'), (2, 'BILL/2025/00002', 'F-200', null)`,
    );
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
    await admin(database.url.replace(/\/[^/]*$/, "/postgres"), `drop role if exists ${role}`);
  });

  it("builds the other indexes, warns once about pg_trgm, and leaves search answering", async () => {
    const lines: { level: string; msg: string }[] = [];
    const logger = createLogger({
      service: "web-api",
      version: "test",
      pretty: false,
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    const keeper = createIndexKeeper(db.pool, logger);
    await keeper.ensure();
    await keeper.ensure(); // asked again (a data-changed signal): pg_trgm is not asked about twice

    const { rows } = await db.pool.query<{ indexname: string }>(
      "select indexname from pg_indexes where schemaname = 'odoo' and tablename = 'account_move'",
    );
    const names = rows.map((r) => r.indexname);
    expect(names).toEqual(
      expect.arrayContaining(["api_move_date_id", "api_move_partner", "api_move_name_id"]),
    );
    expect(names).not.toContain("api_move_search");
    const warnings = lines.filter((l) => l.level === "warn" && /pg_trgm/.test(l.msg));
    expect(warnings).toHaveLength(1);
    const { rows: extensions } = await db.pool.query("select 1 from pg_extension where extname = 'pg_trgm'");
    expect(extensions).toHaveLength(0);

    // the expression the API searches with, answered by reading the rows
    const found = await db.pool.query<{ id: number }>(
      `select id from odoo.account_move m where m._deleted_at is null and (${searchTextOf(INVOICE_SEARCH, "m")}) ilike $1`,
      ["%F-2%"],
    );
    expect(found.rows.map((r) => r.id)).toEqual([2]);
  });
});

/*
 * A `create index concurrently` that fails or is cut short (its worker stopped during a build of
 * minutes on a large table, a deadlock with other DDL) leaves the index INVALID: the planner never
 * uses it, and `create index … if not exists` skipped it for good. The keeper drops such an index
 * and builds it again, but never while its table is busy (another replica's build in progress holds
 * the same lock as VACUUM and ANALYZE): then it looks again on its next call.
 */
describe("a read index a build left invalid", () => {
  let database: TestDatabase;
  let db: Db;
  const lines: { level: string; msg: string; index?: string }[] = [];
  let built = 0; // lines logged while the indexes were first built
  const logger = createLogger({
    service: "etl-worker",
    version: "test",
    pretty: false,
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  const valid = async (index: string) =>
    (
      await db.pool.query<{ valid: boolean }>(
        "select indisvalid as valid from pg_index where indexrelid = $1::regclass",
        [`odoo.${index}`],
      )
    ).rows[0]?.valid;
  // what PostgreSQL leaves when a concurrent build does not finish (the test runs as a superuser)
  const breakIndex = (index: string) =>
    db.pool.query("update pg_index set indisvalid = false where indexrelid = $1::regclass", [
      `odoo.${index}`,
    ]);

  beforeAll(async () => {
    database = await createTestDatabase("indexes_invalid");
    db = createDb({ url: database.url, max: 3 });
    await db.pool.query(`create schema if not exists odoo;
      create table odoo.res_partner (id integer primary key, name text, ref text, vat text,
        _deleted_at timestamptz);
      insert into odoo.res_partner (id, name) select g, 'Partner ' || g from generate_series(1, 500) g`);
    await createIndexKeeper(db.pool, logger).ensure();
    built = lines.length;
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it("is dropped and built again, once its table is no longer busy", async () => {
    expect(await valid("api_partner_name_id")).toBe(true);
    const logged = () => lines.slice(built).filter((l) => l.index === "api_partner_name_id");
    await breakIndex("api_partner_name_id");
    expect(await valid("api_partner_name_id")).toBe(false);

    // another session holds the table as a concurrent build would: left alone for now
    const holder = await db.pool.connect();
    const keeper = createIndexKeeper(db.pool, logger);
    try {
      await holder.query("begin; lock table odoo.res_partner in share update exclusive mode");
      await keeper.ensure();
      expect(await valid("api_partner_name_id")).toBe(false);
    } finally {
      await holder.query("rollback");
      holder.release();
    }
    expect(logged()).toEqual([]);

    // the same keeper, asked again (the next sync or data-changed signal), mends it
    await keeper.ensure();
    expect(await valid("api_partner_name_id")).toBe(true);
    expect(logged().map((l) => [l.level, l.msg])).toEqual([
      ["warn", "a read index left invalid by a build that did not finish: dropped, built again"],
      ["info", "created a read index"],
    ]);
    // the others were never touched
    expect(await valid("api_partner_search")).toBe(true);
  });
});
