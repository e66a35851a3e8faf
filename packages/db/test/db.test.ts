import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  ETL_JOB_NAMES,
  type EtlJobName,
  RUN_STATUSES,
  type RunStatus,
  SYNC_MODES,
  type SyncMode,
} from "@finanzas/contracts";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  connectionOptions,
  createDb,
  ensureDatabase,
  migrateToLatest,
  migrationNames,
  sql,
} from "../src/index.js";

const run = promisify(execFile);
const BASE = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const created: string[] = [];

function freshUrl(): string {
  const name = `finanzas_dbtest_${randomBytes(4).toString("hex")}`;
  created.push(name);
  const url = new URL(BASE);
  url.pathname = `/${name}`;
  return url.toString();
}

afterAll(async () => {
  const admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  for (const name of created) await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

describe("type parsers", () => {
  it("keeps money exact, dates as dates, int8 safe, and refuses to round int8", async () => {
    const database = createDb({ url: BASE, max: 1 });
    try {
      const { rows } = await database.pool.query(`select
          0.1::numeric + 0.2::numeric as money,
          12345678901234567890.123456789::numeric as big,
          '2024-02-29'::date as day,
          9007199254740991::int8 as max_safe,
          '2024-05-01 10:20:30.123'::timestamp as naive,
          array[1.10, 2.005]::numeric[] as amounts,
          array[1, 2]::int8[] as ids`);
      expect(rows[0]).toEqual({
        money: "0.3",
        big: "12345678901234567890.123456789",
        day: "2024-02-29",
        max_safe: 9007199254740991,
        naive: new Date("2024-05-01T10:20:30.123Z"),
        amounts: ["1.10", "2.005"],
        ids: [1, 2],
      });
      await expect(database.pool.query("select 9007199254740993::int8 as n")).rejects.toThrow(/precision/);
    } finally {
      await database.close();
    }
  });
});

describe("connectionOptions", () => {
  it("reads TLS from sslmode like libpq and strips it from the URL", () => {
    expect(connectionOptions("postgres://u:p@db.supabase.co:6543/postgres?sslmode=require")).toEqual({
      connectionString: "postgres://u:p@db.supabase.co:6543/postgres",
      ssl: { rejectUnauthorized: false },
    });
    expect(connectionOptions("postgres://h/db?sslmode=verify-full").ssl).toEqual({
      rejectUnauthorized: true,
    });
    expect(connectionOptions("postgres://h/db").ssl).toBe(false);
  });
});

describe("migrations", () => {
  it("create the database, run from empty, and are a no-op the second time", async () => {
    const url = freshUrl();
    const first = await migrateToLatest(url);
    // No roles applied here: the migrations run as the connecting user.
    expect(first).toEqual({ createdDatabase: true, applied: migrationNames(), ranAs: "postgres" });
    const second = await migrateToLatest(url);
    expect(second).toEqual({ createdDatabase: false, applied: [], ranAs: "postgres" });
    const database = createDb({ url, max: 1 });
    try {
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from pg_namespace where nspname = 'odoo'`.execute(database.db);
      expect(rows[0]?.n).toBe(1);
    } finally {
      await database.close();
    }
  });

  it("let the etl tables hold exactly the contracts' job names, run statuses and modes", async () => {
    const url = freshUrl();
    await migrateToLatest(url);
    const database = createDb({ url, max: 1 });
    try {
      const { db } = database;
      const insertRun = (job: EtlJobName, status: RunStatus, mode: SyncMode | null) =>
        db
          .insertInto("etl.runs")
          .values({ job, status, mode, models: ["res.partner"] })
          .returning("id")
          .executeTakeFirstOrThrow();
      for (const job of ETL_JOB_NAMES) {
        for (const status of RUN_STATUSES) {
          for (const mode of [...SYNC_MODES, null]) {
            const { id } = await insertRun(job, status, mode);
            await db
              .insertInto("etl.run_models")
              .values({ run_id: id, model: "res.partner", status, mode })
              .execute();
          }
        }
      }
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from etl.run_models`.execute(db);
      expect(rows[0]?.n).toBe(ETL_JOB_NAMES.length * RUN_STATUSES.length * (SYNC_MODES.length + 1));
      // A name outside the contracts is refused by the table itself.
      await expect(insertRun("resync" as EtlJobName, "queued", null)).rejects.toThrow(/check constraint/);
      await expect(insertRun("sync", "cancelled" as RunStatus, null)).rejects.toThrow(/check constraint/);
    } finally {
      await database.close();
    }
  });

  it("are safe when several processes run `db:migrate` at once on a missing database", async () => {
    const url = freshUrl();
    const cli = fileURLToPath(new URL("../src/migrate-cli.ts", import.meta.url));
    const runs = await Promise.all(
      [1, 2, 3].map(() =>
        run(process.execPath, ["--conditions=source", "--import", "tsx", cli], {
          env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "info" },
        }),
      ),
    );
    const applied = runs.flatMap((r) =>
      r.stdout
        .split("\n")
        .filter((l) => l.includes('"applied migration"'))
        .map((l) => JSON.parse(l).migration as string),
    );
    // Every migration applied exactly once across the three racing processes.
    expect(applied.sort()).toEqual(migrationNames());
    const client = new pg.Client(url);
    await client.connect();
    const { rows } = await client.query("select name from kysely_migration order by name");
    await client.end();
    expect(rows.map((r) => r.name)).toEqual(migrationNames());
  });

  it("ensureDatabase reports an unreachable server with the URL and the fix", async () => {
    await expect(ensureDatabase("postgres://postgres:pw@127.0.0.1:1/finanzas")).rejects.toThrow(
      "cannot reach PostgreSQL at postgres://postgres:***@127.0.0.1:1/finanzas (ECONNREFUSED): start PostgreSQL or set DATABASE_URL",
    );
  });
});
