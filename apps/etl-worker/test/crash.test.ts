import { fileURLToPath } from "node:url";
import { etlQueue } from "@finanzas/contracts";
import { createDb, type Db } from "@finanzas/db";
import { createOdooClient, type OdooClient } from "@finanzas/odoo";
import { type OdooSim, startOdooSim } from "@finanzas/odoo-sim";
import { createProducer } from "@finanzas/queue";
import {
  createTestDatabase,
  deleteQueueKeys,
  freePort,
  type ServiceProcess,
  startProcess,
  TEST_REDIS_URL,
  type TestDatabase,
  testQueuePrefix,
  waitForHttpOk,
} from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffWithSource, runCli } from "./helpers.js";

const entry = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/**
 * The service killed in the middle of a partitioned full pass against a slow Odoo, then started
 * again: every partition resumes where it stopped, and the new worker does not wait for the dead
 * one's leases (60 s here) to expire.
 */
describe("etl-worker killed in the middle of a partitioned full pass", () => {
  let sim: OdooSim;
  let database: TestDatabase;
  let store: Db;
  let odoo: OdooClient;
  const prefix = testQueuePrefix("etl-crash");
  const procs: ServiceProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    [sim, database] = await Promise.all([
      startOdooSim({ version: 18, scale: 0.3, seed: 5, performance: { latencyMs: 15, workers: 4 } }),
      createTestDatabase("etl_crash"),
    ]);
    store = createDb({ url: database.url, max: 4 });
    odoo = createOdooClient({
      url: sim.url,
      db: sim.database,
      username: sim.username,
      password: sim.password,
    });
    env = {
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      SHUTDOWN_TIMEOUT_MS: "2000",
      ODOO_URL: sim.url,
      ODOO_DB: sim.database,
      ODOO_USERNAME: sim.username,
      ODOO_PASSWORD: sim.password,
      ODOO_PAGE_SIZE: "100",
      ODOO_MAX_CONCURRENCY: "4",
      ETL_PARTITION_MIN_RECORDS: "500",
      ETL_LOCK_TTL_SECONDS: "60",
      ETL_ODOO_RETRIES: "2",
    };
  });
  afterAll(async () => {
    for (const p of procs) await p.stop("SIGKILL");
    await odoo?.close();
    await store?.close();
    await sim?.close();
    await database?.drop();
    await deleteQueueKeys(prefix);
  });

  const startWorker = async () => {
    const port = await freePort();
    const proc = startProcess(entry, { ...env, HEALTH_PORT: String(port) });
    procs.push(proc);
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, proc, 20_000);
    const deadline = Date.now() + 20_000;
    while (!proc.output().includes('"msg":"ready"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    return proc;
  };
  const partitions = async () =>
    (
      await store.pool.query<{ part: number; last_id: number; after_id: number; done: number }>(
        "select part, last_id, after_id, done from etl.partitions where model = 'account.move.line' order by part",
      )
    ).rows;

  it("resumes every partition at once, without duplicates or gaps, and never exceeds ODOO_MAX_CONCURRENCY", async () => {
    const total = sim.store.count("account.move.line");
    const first = await startWorker();
    sim.control.resetStats();
    const producer = createProducer(etlQueue, { redisUrl: TEST_REDIS_URL, prefix });
    await producer.add("sync", { mode: "full", models: ["account.move.line", "account.move"] });
    await producer.close();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const parts = await partitions();
      const done = parts.reduce((n, p) => n + p.done, 0);
      if (
        (parts.filter((p) => p.last_id > p.after_id).length >= 2 && done > total / 4) ||
        Date.now() > deadline
      )
        break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await first.stop("SIGKILL");
    const before = await partitions();
    expect(before.length).toBe(4);
    const copied = before.reduce((n, p) => n + p.done, 0);
    expect(copied).toBeGreaterThan(0);
    expect(copied).toBeLessThan(total);

    await startWorker();
    const started = Date.now();
    const run = await runCli(["run", "--models", "account.move.line,account.move"], env);
    const seconds = (Date.now() - started) / 1000;
    expect(run.code, run.output).toBe(0);
    // Far from the 60 s a dead worker's leases would hold the models.
    expect(seconds).toBeLessThan(20);
    expect(run.output).not.toContain("model is being synced by another run");
    // Resumed: what was left of the partitions and the catch-up, not the whole table again.
    const fetched = Number(/account\.move\.line\s+fetched (\d+)/.exec(run.output)?.[1]);
    expect(fetched).toBeLessThan(total - copied + 400);
    expect(await diffWithSource({ sim, odoo, store }, ["account.move.line", "account.move"])).toEqual([]);
    const dupes = await store.pool.query(
      "select count(*)::int as n, count(distinct id)::int as d from odoo.account_move_line",
    );
    expect(dupes.rows[0]).toEqual({ n: total, d: total });
    expect((await partitions()).length).toBe(0);
    // The killed run is in the history as failed, its worker known dead.
    const killed = await store.pool.query(
      "select m.status, m.error from etl.run_models m join etl.runs r on r.id = m.run_id where r.id = (select min(id) from etl.runs) and m.model = 'account.move.line'",
    );
    expect(killed.rows[0]).toMatchObject({ status: "failed", error: "worker lost (its process is gone)" });
    expect(sim.control.getStats().concurrency.peakInFlight).toBeLessThanOrEqual(4);
  }, 90_000);
});
