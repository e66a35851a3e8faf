/**
 * Fault suite — Odoo. The built etl-worker (apps/etl-worker/dist/main.js, as its image runs it)
 * against PostgreSQL and Redis instances of the suite's own and an Odoo simulator that misbehaves
 * on purpose: answers later than the call's deadline, a 4 GiB answer, a value nested 10 000
 * levels deep, bytes that are not UTF-8 and control characters, a date that does not exist, a
 * proxy that echoes the password back, a refused login. Each scenario runs syncs as an operator
 * does (`etl:run`, the built CLI) and checks: the service stays up (the same process answers its
 * health check), the run ends with a clear failure or exact rows, and once the fault is gone the
 * next run converges (every model's local ids and write_dates equal Odoo's: nothing lost or
 * doubled). The worker's peak RSS is read from /proc. Outcomes are printed as a table
 * (bench/README.md, "Fault suite — Odoo").
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  freePort,
  type PostgresInstance,
  type RedisInstance,
  type ServiceProcess,
  startNode,
  startPostgres,
  startProcess,
  startRedis,
  startTestOdoo,
  type TestOdoo,
  waitForHttpOk,
} from "@finanzas/testing";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const PASSWORD = "Fault-Su1te&<Secret>";
const PROXY_PASSWORD = "Pr0xy-Pa55word";

const etlDir = dirname(createRequire(import.meta.url).resolve("etl-worker/package.json"));
const MAIN = join(etlDir, "dist", "main.js");
const CLI = join(etlDir, "dist", "cli.js");

interface Outcome {
  scenario: string;
  outcome: string;
  data: string;
  seconds: number;
}
const outcomes: Outcome[] = [];

/** The worker's peak resident memory so far (VmHWM), MB. */
const peakRssMb = (proc: ServiceProcess): number => {
  const status = readFileSync(`/proc/${proc.child.pid}/status`, "utf8");
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
};

describe("fault suite — Odoo: the built etl-worker against a misbehaving Odoo", () => {
  let postgres: PostgresInstance;
  let redis: RedisInstance;
  let odoo: TestOdoo;
  let pool: pg.Pool;
  let env: Record<string, string>;
  let worker: ServiceProcess;
  let healthPort: number;

  /** The settings the running worker was started with beyond `env` (none: the defaults). */
  let workerOverrides: Record<string, string> = {};
  const startWorker = async (overrides: Record<string, string> = {}) => {
    workerOverrides = overrides;
    healthPort = await freePort();
    const proc = startProcess(MAIN, { ...env, HEALTH_PORT: String(healthPort), ...overrides });
    await waitForHttpOk(`http://127.0.0.1:${healthPort}/health/ready`, proc, 30_000);
    const deadline = Date.now() + 30_000;
    while (!proc.output().includes('"msg":"ready"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    return proc;
  };

  /** `etl:run [args]` with the built CLI: its exit code, its output, its wall time. */
  const etlRun = async (...args: string[]) => {
    const started = performance.now();
    const cli = startNode([CLI, "run", ...args], {
      DATABASE_URL: env.DATABASE_URL as string,
      REDIS_URL: env.REDIS_URL as string,
      QUEUE_PREFIX: env.QUEUE_PREFIX as string,
    });
    const { code } = await cli.exited;
    return { code, output: cli.output(), seconds: (performance.now() - started) / 1000 };
  };

  /** The service is still up: the same process, answering its liveness check. */
  const expectUp = async () => {
    expect(worker.child.exitCode).toBeNull();
    const res = await fetch(`http://127.0.0.1:${healthPort}/health/live`);
    expect(res.status).toBe(200);
  };

  /**
   * Every synced model's live local rows against Odoo's records: the same ids, each with Odoo's
   * write_date (the version of the record). Returns the differences (empty: equal).
   */
  const compare = async (): Promise<string[]> => {
    const diffs: string[] = [];
    const { rows: models } = await pool.query<{ model: string }>(
      "select model from etl.cursors order by model",
    );
    expect(models.length).toBeGreaterThanOrEqual(9);
    for (const { model } of models) {
      const ids = odoo.sim.store.ids(model);
      const source = new Map(
        odoo.sim.store.read(model, ids, ["write_date"]).map((r) => [r.id as number, String(r.write_date)]),
      );
      const { rows } = await pool.query<{ id: number; w: string }>(
        `select id, to_char(write_date at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as w from odoo.${model.replace(/\./g, "_")} where _deleted_at is null`,
      );
      const local = new Map(rows.map((r) => [r.id, r.w]));
      for (const [id, w] of source) {
        if (!local.has(id)) diffs.push(`${model} ${id}: missing locally`);
        else if (local.get(id) !== w) diffs.push(`${model} ${id}: write_date ${local.get(id)}, Odoo ${w}`);
      }
      for (const id of local.keys()) if (!source.has(id)) diffs.push(`${model} ${id}: not in Odoo`);
    }
    return diffs;
  };

  /** The fault gone, the next run succeeds and the copy equals the source; its time. */
  const converge = async (scenario: string, outcome: string, ...args: string[]) => {
    odoo.sim.control.clearFaults();
    const run = await etlRun(...args);
    expect(run.code, run.output).toBe(0);
    const diffs = await compare();
    expect(diffs).toEqual([]);
    await expectUp();
    outcomes.push({
      scenario,
      outcome,
      data: "equal to Odoo after the next run (ids and write_date of every record, every model)",
      seconds: Math.round(run.seconds * 10) / 10,
    });
  };

  beforeAll(async () => {
    [postgres, redis, odoo] = await Promise.all([
      startPostgres(),
      startRedis(),
      startTestOdoo({ version: 17, scale: 0.05, seed: 11, password: PASSWORD }),
    ]);
    const databaseUrl = await postgres.createDatabase("faults_odoo");
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    const sim = new URL(odoo.sim.url);
    env = {
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: "faults-odoo",
      SHUTDOWN_TIMEOUT_MS: "5000",
      // credentials for a proxy in front of Odoo: sent as basic authentication, never shown
      ODOO_URL: `http://proxyuser:${PROXY_PASSWORD}@${sim.host}${sim.pathname}`,
      ODOO_DB: odoo.sim.database,
      ODOO_USERNAME: odoo.sim.username,
      ODOO_PASSWORD: PASSWORD,
      ODOO_PROTOCOL: "xmlrpc",
      ODOO_PAGE_SIZE: "100",
      ODOO_TIMEOUT_MS: "30000",
      ODOO_CALL_DEADLINE_MS: "60000",
      ETL_LOCK_TTL_SECONDS: "5",
    };
    worker = await startWorker();
  }, 180_000);

  // A scenario that fails half-way leaves neither its fault nor its worker's short limits to the
  // next one: each scenario starts from a well-behaved Odoo and a worker on the defaults.
  afterEach(async () => {
    odoo?.sim.control.clearFaults();
    if (worker && Object.keys(workerOverrides).length > 0) {
      await worker.stop("SIGTERM");
      worker = await startWorker();
    }
  }, 60_000);

  afterAll(async () => {
    await worker?.stop("SIGKILL");
    await pool?.end();
    await odoo?.close();
    await Promise.all([postgres?.close(), redis?.close()]);
    if (outcomes.length) {
      const table = [
        "| scenario | outcome | data check | time (s) |",
        "| --- | --- | --- | --- |",
        ...outcomes.map((o) => `| ${o.scenario} | ${o.outcome} | ${o.data} | ${o.seconds} |`),
      ].join("\n");
      console.info(`\nFault suite — Odoo\n${table}\n`);
    }
  }, 60_000);

  it("a first full sync: exact rows", async () => {
    const run = await etlRun("--full");
    expect(run.code, run.output).toBe(0);
    expect(await compare()).toEqual([]);
    outcomes.push({
      scenario: "baseline: full sync of every model",
      outcome: "succeeded",
      data: "equal to Odoo",
      seconds: Math.round(run.seconds * 10) / 10,
    });
  });

  it("answers later than the call's deadline: a clear failure within it, then convergence", async () => {
    // A worker with short limits (SIGTERM, then started again with them): one attempt 3 s, a call 5 s.
    expect((await worker.stop("SIGTERM")).code).toBe(0);
    worker = await startWorker({ ODOO_TIMEOUT_MS: "3000", ODOO_CALL_DEADLINE_MS: "5000" });
    odoo.sim.control.injectFault({ kind: "slow", delayMs: 8000, path: "/xmlrpc/2/object" });
    const run = await etlRun("--models", "res.partner,account.move");
    expect(run.code).toBe(1);
    expect(run.output).toMatch(
      /no answer within the call's deadline of 5000 ms \(ODOO_CALL_DEADLINE_MS\) after \d attempts?; the last: .*within \d+ ms/,
    );
    // both models at once, each call bounded by its deadline (not ETL_ODOO_RETRIES × ODOO_TIMEOUT_MS,
    // nor the model resumed as if PostgreSQL had been lost: Odoo's socket errors carry the same codes)
    expect(run.seconds, `${run.output}\n${worker.output().slice(-4000)}`).toBeLessThan(5 + 13);
    await expectUp();
    expect((await worker.stop("SIGTERM")).code).toBe(0);
    worker = await startWorker();
    await converge(
      "every answer 8 s late (ODOO_TIMEOUT_MS 3 s, ODOO_CALL_DEADLINE_MS 5 s)",
      `run failed in ${run.seconds.toFixed(1)} s: "no answer within the call's deadline of 5000 ms … after 2 attempts"`,
    );
  });

  it("a 4 GiB answer to a page of journal items: cut off at the cap, memory bounded, then convergence", async () => {
    const before = peakRssMb(worker);
    odoo.sim.control.injectFault({
      kind: "huge",
      model: "account.move.line",
      method: "search_read",
      bytes: 4 * 1024 ** 3,
    });
    const run = await etlRun("--full", "--models", "account.move.line");
    expect(run.code).toBe(1);
    expect(run.output).toMatch(
      /account\.move\.line\.search_read: the answer from POST http:\/\/127\.0\.0\.1:\d+\/xmlrpc\/2\/object is larger than ODOO_MAX_RESPONSE_BYTES \(64 MiB\)/,
    );
    const after = peakRssMb(worker);
    console.info(`etl-worker peak RSS: ${before} MB before the 4 GiB answer, ${after} MB after`);
    expect(after - before).toBeLessThan(250);
    expect(after).toBeLessThan(700);
    await expectUp();
    await converge(
      "a 4 GiB answer to a page of journal items",
      `run failed in ${run.seconds.toFixed(1)} s: "account.move.line.search_read: the answer … is larger than ODOO_MAX_RESPONSE_BYTES (64 MiB)"; worker peak RSS ${before} → ${after} MB`,
      "--full",
      "--models",
      "account.move.line",
    );
  });

  it("a value nested 10 000 levels deep: a parse error, then convergence", async () => {
    const line = odoo.sim.store.ids("account.move.line")[25] as number;
    odoo.sim.control.injectFault({ kind: "deep", model: "account.move.line", field: "name", id: line });
    const run = await etlRun("--full", "--models", "account.move.line");
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/invalid XML-RPC response: value nested deeper than 64 levels at offset \d+/);
    await expectUp();
    await converge(
      "a journal item's label nested 10 000 levels deep",
      `run failed in ${run.seconds.toFixed(1)} s: "… invalid XML-RPC response: value nested deeper than 64 levels"`,
      "--full",
      "--models",
      "account.move.line",
    );
  });

  it("invalid UTF-8 and control characters in partner names: exact rows (U+FFFD, characters removed)", async () => {
    const [garbled, controls] = odoo.sim.store.ids("res.partner").slice(3, 5) as [number, number];
    odoo.sim.control.injectFault({
      kind: "poison",
      model: "res.partner",
      id: garbled,
      field: "name",
      hex: "4361ff20c32842",
    });
    odoo.sim.control.injectFault({
      kind: "poison",
      model: "res.partner",
      id: controls,
      field: "name",
      text: "Nul\u0000Bell\u0007 SL",
    });
    const run = await etlRun("--full", "--models", "res.partner");
    expect(run.code, run.output).toBe(0);
    const { rows } = await pool.query(
      "select id, name from odoo.res_partner where id = any($1) order by id",
      [[garbled, controls]],
    );
    expect(rows).toEqual([
      { id: garbled, name: "Ca\uFFFD \uFFFD(B" },
      { id: controls, name: "NulBell SL" },
    ]);
    expect(worker.output()).toContain(`control characters removed from res.partner ${controls} field name`);
    await expectUp();
    // fixed in Odoo (edited: write_date bumped), the next incremental run brings the right names
    odoo.sim.control.clearFaults();
    const names = odoo.sim.store.read("res.partner", [garbled, controls], ["name"]);
    for (const r of names) odoo.sim.control.update("res.partner", [r.id as number], { name: r.name });
    await converge(
      "invalid UTF-8 and control characters (NUL) in two partner names",
      `run succeeded in ${run.seconds.toFixed(1)} s: names stored with U+FFFD and without the control characters (reported as cleaned)`,
    );
  });

  it("a date that does not exist: the record left out, listed and read again; the rest committed", async () => {
    // A new invoice whose date Odoo answers as 2023-02-30; its lines are fine.
    const created = odoo.sim.control.createMove({
      move_type: "out_invoice",
      state: "posted",
      amounts: [120],
    });
    const move = created.ids[0] as number;
    odoo.sim.control.injectFault({
      kind: "poison",
      model: "account.move",
      id: move,
      field: "date",
      text: "2023-02-30",
    });
    const run = await etlRun();
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(
      "1 record(s) not written, a value PostgreSQL cannot store (listed in etl.rejected, read again by the next sync)",
    );
    expect(run.output).toContain(
      `id ${move} date: expected a date that exists, YYYY-MM-DD, or false, got "2023-02-30"`,
    );
    // every other record written, its lines included; the invoice listed, not lost
    expect(await compare()).toEqual([`account.move ${move}: missing locally`]);
    const listed = await pool.query("select model, id from etl.rejected");
    expect(listed.rows).toEqual([{ model: "account.move", id: move }]);
    await expectUp();
    // Odoo answers a real date again: the next (incremental) run reads the listed record again
    await converge(
      "a new invoice whose date is one that does not exist (2023-02-30)",
      `run succeeded in ${run.seconds.toFixed(1)} s with 1 record not written (CLI and etl.rejected: id, field, reason), every other row written`,
    );
    expect((await pool.query("select count(*)::int as n from etl.rejected")).rows[0].n).toBe(0);
  });

  it("a proxy echoing the request: a clear failure, the password nowhere (errors, logs, run history)", async () => {
    odoo.sim.control.injectFault({ kind: "echo", count: 3 });
    const run = await etlRun("--models", "res.partner");
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/HTTP 400/);
    await expectUp();
    const { rows } = await pool.query(
      "select r.error as run, m.error as model from etl.runs r join etl.run_models m on m.run_id = r.id",
    );
    for (const text of [run.output, worker.output(), JSON.stringify(rows)]) {
      expect(text).not.toContain("Fault-Su1te");
      expect(text).not.toContain(PROXY_PASSWORD);
      expect(text).not.toContain(Buffer.from(`proxyuser:${PROXY_PASSWORD}`).toString("base64"));
    }
    await converge(
      "a proxy answering 400 with the request echoed (password in the body)",
      `run failed in ${run.seconds.toFixed(1)} s ("HTTP 400 …"); the password in none of the CLI output, the worker's log, etl.runs, etl.run_models`,
    );
  });

  it("a refused login: a clear failure naming the login, the password nowhere; the service stays up", async () => {
    const stopped = await worker.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    const wrong = "Wr0ng-Fault-Pa55";
    worker = await startWorker({ ODOO_PASSWORD: wrong });
    const run = await etlRun("--models", "res.partner");
    expect(run.code).toBe(1);
    expect(run.output).toContain('Odoo refused the login "admin" on database "odoo"');
    await expectUp();
    for (const text of [run.output, worker.output()]) expect(text).not.toContain(wrong);
    expect(JSON.stringify((await pool.query("select error from etl.run_models")).rows)).not.toContain(wrong);
    expect((await worker.stop("SIGTERM")).code).toBe(0);
    worker = await startWorker();
    await converge(
      "a refused login (wrong ODOO_PASSWORD), then the right one",
      `run failed in ${run.seconds.toFixed(1)} s: 'Odoo refused the login "admin" on database "odoo"'; the wrong password shown nowhere`,
    );
  });
});
