/**
 * PostgreSQL's side of a sync, alone: the same journal-item pages (read once from the simulator,
 * encoded by the etl-worker's transformer) written the two ways the worker writes them, each page
 * one transaction with its lease check and cursor like a sync:
 *   upsert   INSERT … SELECT FROM unnest(one array per column) ON CONFLICT DO UPDATE (writeBatch)
 *   copy     COPY … FROM STDIN (copyBatch: the pages of a first full pass)
 * into an empty table, then the upsert again over the rows already there (a full re-sync).
 * Prints PostgreSQL's CPU seconds (its backends' /proc time) and the wall time of each.
 *
 *   pnpm exec turbo run build --filter=etl-worker  # the worker's code, as etl-worker/bench exports it
 *   pnpm exec tsx bench/etl/load.ts [scale=10]     # scale 10 ≈ 100 000 journal items
 */

import { ensureModelTables, REGISTRY } from "@finanzas/ledger";
import {
  copyBatch,
  copyStatements,
  createTransformer,
  currencyDecimals,
  fieldsGet,
  fullPage,
  resolveModel,
  type Source,
  tryAcquire,
  upsertStatement,
  writeBatch,
} from "etl-worker/bench";
import { createDb, createPool, migrateToLatest } from "../../packages/db/src/index.js";
import { createOdooClient } from "../../packages/odoo/src/index.js";
import { startOdooSim } from "../../packages/odoo-sim/src/index.js";
import { cpuSecondsOf } from "../proc.js";

const scale = Number(process.argv[2] ?? 10);
const adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `bench_etl_load_${process.pid}`;
const admin = createPool({ url: adminUrl, max: 1 });
await admin.query(`create database ${name}`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
const store = createDb({ url: url.toString(), max: 2 });
try {
  await migrateToLatest(url.toString());
  await ensureModelTables(store.db);

  const sim = await startOdooSim({ scale, version: 17 });
  const client = createOdooClient({ url: sim.url, db: "odoo", username: "admin", password: "admin" });
  const source: Source = { client };
  const model = "account.move.line";
  const resolved = resolveModel(REGISTRY.find((s) => s.model === model)!, await fieldsGet(source, model));
  const transformer = createTransformer(model, resolved.columns, await currencyDecimals(source));
  const fields = resolved.columns.map((c) => c.name);
  const pages: Record<string, unknown>[][] = [];
  for (let after = 0; ; ) {
    const page = await fullPage(source, model, fields, after, 1000);
    if (page.records.length) pages.push(page.records);
    if (page.done) break;
    after = page.records.at(-1)!.id as number;
  }
  await client.close();
  await sim.close();
  const rows = pages.reduce((n, p) => n + p.length, 0);
  const arrays = pages.map((p) => transformer.encode(p, () => {}));
  const copies = pages.map((p) => transformer.encodeCopy(p, () => {}));
  const lease = (await tryAcquire(store.db, model, "bench", 1, 3600))!;
  const statement = upsertStatement(model, resolved.columns);
  const statements = copyStatements(model, resolved.columns);
  const lastIds = pages.map((p) => p.at(-1)!.id as number);

  /** PostgreSQL's CPU: every backend of this database (the pool's connections). */
  const backendCpu = async () => {
    const { rows: pids } = await admin.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname = $1",
      [name],
    );
    return pids.reduce((s, r) => s + cpuSecondsOf(r.pid), 0);
  };
  const measure = async (label: string, write: (i: number) => Promise<unknown>) => {
    await store.pool.query("checkpoint");
    const cpu0 = await backendCpu();
    const started = performance.now();
    for (let i = 0; i < pages.length; i++) await write(i);
    const wall = (performance.now() - started) / 1000;
    const cpu = (await backendCpu()) - cpu0;
    console.log(`| ${label} | ${cpu.toFixed(2)} | ${wall.toFixed(2)} |`);
    return cpu;
  };
  console.log(`${rows} journal items in ${pages.length} pages of 1 000, one transaction per page\n`);
  const upsert = (i: number) =>
    writeBatch(store.db, {
      model,
      statement,
      page: arrays[i]!,
      lease,
      cursor: { full_last_id: lastIds[i]! },
    });
  console.log("| write | PostgreSQL CPU s | wall s |\n| --- | ---: | ---: |");
  const results: Record<string, number[]> = { upsert: [], copy: [], again: [] };
  for (let round = 0; round < 2; round++) {
    await store.pool.query(`truncate odoo.${"account_move_line"}`);
    results.upsert!.push(await measure("upsert (unnest), empty table", upsert));
    results.again!.push(await measure("upsert (unnest), rows already there, unchanged", upsert));
    await store.pool.query(`truncate odoo.${"account_move_line"}`);
    results.copy!.push(
      await measure("COPY, empty table", (i) =>
        copyBatch(store.pool, store.db, {
          model,
          statements,
          page: copies[i]!,
          lease,
          cursor: { full_last_id: lastIds[i]! },
        }),
      ),
    );
  }
  const min = (xs: number[]) => Math.min(...xs);
  console.log(
    `\nCOPY / upsert into an empty table: PostgreSQL CPU ${(min(results.copy!) / min(results.upsert!)).toFixed(2)}× (best of 2 each)`,
  );
} finally {
  await store.close();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
