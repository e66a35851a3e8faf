/**
 * PostgreSQL restarted (fast: SIGINT; immediate: SIGQUIT; killed: SIGKILL to every process) under
 * the built etl-worker while it syncs: during a full sync, whose pages go in with COPY, and during an
 * incremental sync, whose pages are upserts. The worker must live through it, the batch in flight
 * must roll back with its cursor, and the sync must resume from the committed cursor by itself and
 * end with the synced copy equal to the source: nothing lost, nothing doubled.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  finishedRun,
  lastCommit,
  logLines,
  record,
  rowsIn,
  type Service,
  type Stack,
  startStack,
  until,
} from "./harness.js";

let stack: Stack;
let etl: Service;

beforeAll(async () => {
  // About 3 000 journal items, read 100 a page from a server that takes 40 ms per request: a full
  // sync of a few seconds, long enough to be hit in the middle.
  stack = await startStack({ odoo: { scale: 0.3, performance: { latencyMs: 40 } } });
  etl = await stack.start("etl-worker", {
    ODOO_PAGE_SIZE: "100",
    ETL_MODEL_CONCURRENCY: "2",
    ETL_LOCK_TTL_SECONDS: "5",
    DATABASE_STATEMENT_TIMEOUT_MS: "10000",
  });
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

/** PostgreSQL's clock now (the ETL's commit times are on it). */
async function pgNow(): Promise<number> {
  const { rows } = await stack.store.pool.query<{ now: Date }>("select now() as now");
  return new Date(rows[0]!.now).getTime();
}

/** Empties the synced copy and the ETL's cursors, so the next full sync starts over with COPY. */
async function emptyCopy(): Promise<void> {
  const { rows } = await stack.store.pool.query<{ t: string }>(
    "select tablename as t from pg_tables where schemaname = 'odoo'",
  );
  await stack.store.pool.query(
    `truncate ${rows.map((r) => `odoo."${r.t}"`).join(", ")}, etl.cursors, etl.partitions`,
  );
}

/**
 * Starts a sync, breaks PostgreSQL once `ready` says the sync is under way, and follows the
 * recovery: the time from PostgreSQL accepting connections again to the ETL's next commit, the
 * run's outcome, the worker still up, the data check.
 */
async function syncThroughFault(options: {
  scenario: string;
  mode: "full" | "incremental";
  ready: () => Promise<boolean>;
  fault: () => Promise<void>;
}) {
  const { id: jobId } = await stack.etl.add("sync", { mode: options.mode });
  await until("the sync to be under way", options.ready, 60_000, 20);
  const before = await lastCommit(stack.store);
  const faultAt = Date.now();
  await options.fault();
  const upAt = Date.now();
  const serverUp = await pgNow();
  // the first batch committed after the fault: the sync resumed (or, if it ended meanwhile, its end)
  const resumedAt = await until(
    "the ETL to commit again",
    async () => {
      if ((await lastCommit(stack.store)) >= serverUp) return Date.now();
      const run = await stack.store.pool.query<{ status: string }>(
        "select status from etl.runs where job_id = $1 order by id desc limit 1",
        [jobId],
      );
      return run.rows[0]?.status === "succeeded" ? Date.now() : undefined;
    },
    90_000,
    50,
  );
  const run = await finishedRun(stack.store, jobId, 180_000);
  const convergedAt = Date.now();
  expect(etl.alive(), stack.logs()).toBe(true);
  expect(run.status, `${run.error}\n${stack.logs()}`).toBe("succeeded");
  const diffs = await stack.dataCheck();
  expect(diffs, stack.logs()).toEqual([]);
  const resumed = logLines(etl).filter((l) => String(l.msg).startsWith("lost PostgreSQL under the model"));
  record({
    scenario: options.scenario,
    outcome: `worker up; ${resumed.length ? `${resumed.length} model(s) resumed from their cursor in the same run` : "run unaffected"}, run ${run.status} (attempt ${run.attempt}); down ${((upAt - faultAt) / 1000).toFixed(1)} s`,
    dataCheck: diffs.length === 0 ? "copy = source" : `${diffs.length} differences`,
    recoverMs: resumedAt - upAt,
  });
  process.stdout.write(
    `[fault]   committed before the fault at ${new Date(before).toISOString()}; converged ${((convergedAt - upAt) / 1000).toFixed(1)} s after PostgreSQL was back\n`,
  );
  return { run, resumed };
}

describe("PostgreSQL restarted under the etl-worker", () => {
  it("during a full sync (COPY), fast shutdown: the sync resumes from its cursor and the copy equals the source", async () => {
    const { resumed } = await syncThroughFault({
      scenario: "PostgreSQL restarted (fast) during a full sync (COPY)",
      mode: "full",
      ready: async () => (await rowsIn(stack.store, "account_move_line")) >= 600,
      fault: () => stack.pg.restart("fast"),
    });
    expect(resumed.length).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it("during a full sync (COPY), every PostgreSQL process killed: no committed page lost, none doubled", async () => {
    await emptyCopy();
    const { resumed } = await syncThroughFault({
      scenario: "PostgreSQL killed (SIGKILL) during a full sync (COPY)",
      mode: "full",
      ready: async () => (await rowsIn(stack.store, "account_move_line")) >= 600,
      fault: async () => {
        await stack.pg.kill();
        await stack.pg.start();
      },
    });
    expect(resumed.length).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it("during an incremental sync (upserts), immediate shutdown: the changes all arrive, once", async () => {
    // Changes in Odoo since the last sync: every journal item of the first 600 moves edited in
    // batches (each its own write_date), and new entries created.
    const { sim } = stack.odoo;
    const moves = sim.store.ids("account.move").slice(0, 600);
    for (let i = 0; i < moves.length; i += 50) {
      sim.control.update("account.move", moves.slice(i, i + 50), { ref: `fault suite edit ${i}` });
    }
    for (let i = 0; i < 5; i++) sim.control.createMove({});
    // slower pages, so the incremental run lasts long enough to be hit
    sim.control.setPerformance({ latencyMs: 150 });
    const cursorBefore = await stack.store.pool.query<{ at: Date }>(
      "select max(updated_at) as at from etl.cursors",
    );
    const since = new Date(cursorBefore.rows[0]!.at).getTime();
    try {
      await syncThroughFault({
        scenario: "PostgreSQL restarted (immediate) during an incremental sync (upserts)",
        mode: "incremental",
        // a first page of changes committed
        ready: async () => (await lastCommit(stack.store)) > since,
        fault: () => stack.pg.restart("immediate"),
      });
    } finally {
      sim.control.setPerformance({ latencyMs: 40 });
    }
  }, 300_000);
});
