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

describe("etl-worker process: SIGKILL mid-sync, restart, CLI", () => {
  let sim: OdooSim;
  let database: TestDatabase;
  let store: Db;
  let odoo: OdooClient;
  const prefix = testQueuePrefix("etl-worker");
  const procs: ServiceProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    [sim, database] = await Promise.all([
      startOdooSim({ version: 17, scale: 0.3, seed: 3 }),
      createTestDatabase("etl_kill"),
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
      ETL_LOCK_TTL_SECONDS: "3",
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
    // Ready (PostgreSQL + Redis answer) comes before the worker has brought the odoo tables in line.
    const deadline = Date.now() + 20_000;
    while (!proc.output().includes('"msg":"ready"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    return proc;
  };
  const lineCount = async () =>
    (await store.pool.query("select count(*)::int as n from odoo.account_move_line")).rows[0].n as number;

  it("converges after a SIGKILL mid-sync and a restart, with no gap and no duplicate", async () => {
    const total = sim.store.count("account.move.line");
    const first = await startWorker();
    sim.control.injectFault({ kind: "slow", delayMs: 25 });
    const producer = createProducer(etlQueue, { redisUrl: TEST_REDIS_URL, prefix });
    await producer.add("sync", { mode: "full", models: ["account.move.line", "account.move"] });
    await producer.close();
    const deadline = Date.now() + 30_000;
    while ((await lineCount()) < total / 4 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await first.stop("SIGKILL");
    sim.control.clearFaults();
    const copied = await lineCount();
    expect(copied).toBeGreaterThan(0);
    expect(copied).toBeLessThan(total);
    const cursor = await store.pool.query(
      "select full_last_id from etl.cursors where model = 'account.move.line'",
    );
    expect(cursor.rows[0].full_last_id).toBeGreaterThan(0);

    // Meanwhile Odoo changes; then a new worker starts and the next sync (here from the CLI) runs.
    sim.control.update("account.move.line", sim.store.ids("account.move.line").slice(0, 3), {
      name: "after the crash",
    });
    await startWorker();
    const run = await runCli(["run", "--models", "account.move.line,account.move"], env);
    expect(run.output).toMatch(/enqueued incremental sync of account\.move\.line, account\.move/);
    expect(run.output).toMatch(/run \d+ succeeded/);
    expect(run.code, run.output).toBe(0);
    // It resumed the interrupted full pass instead of starting over.
    const resumed = Number(/account\.move\.line\s+fetched (\d+)/.exec(run.output)?.[1]);
    expect(resumed).toBeLessThan(total);
    const diff = await diffWithSource({ sim, odoo, store }, ["account.move.line", "account.move"]);
    expect(
      diff,
      procs
        .map((p) => p.output())
        .join("\n")
        .slice(-5000),
    ).toEqual([]);
    const dupes = await store.pool.query(
      "select count(*) - count(distinct id) as d from odoo.account_move_line",
    );
    expect(Number(dupes.rows[0].d)).toBe(0);
    // The killed run is in the history as failed (its lease expired and was taken over).
    const killed = await store.pool.query("select status, error from etl.runs order by id limit 1");
    expect(killed.rows[0]).toMatchObject({ status: "failed" });

    const status = await runCli(["status"], env);
    expect(status.code, status.output).toBe(0);
    expect(status.output).toMatch(
      /account\.move\.line\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+(\d+)/,
    );
    expect(status.output).toContain(String(total));
  }, 90_000);

  it("etl:run exits non-zero with the reason when the sync fails", async () => {
    const failing = await runCli(["run", "--models", "res.partner"], { ...env, QUEUE_PREFIX: prefix });
    expect(failing.code).toBe(0); // sanity: a good run first
    sim.control.injectFault({ kind: "http502", count: 10_000 });
    const bad = await runCli(["run", "--models", "res.currency"], env);
    sim.control.clearFaults();
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/res\.currency.*502/s);
    const unknown = await runCli(["run", "--models", "res.nothing"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain("unknown model(s) res.nothing");
  }, 90_000);
});
