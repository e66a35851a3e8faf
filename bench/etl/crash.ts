/**
 * What a crash costs: the built etl-worker SIGKILLed in the middle of a full sync against a slow,
 * busy Odoo, started again and made to sync again, against the same full sync uninterrupted.
 *
 *   pnpm exec turbo run build --filter=etl-worker --filter=@finanzas/odoo-sim
 *   pnpm exec tsx bench/etl/crash.ts [scale=10]
 *   BENCH_PAGE_MS=300       the server's time for a page of ODOO_PAGE_SIZE records (charged per record read)
 *   BENCH_REQUEST_MS=10     its fixed time per request
 *   BENCH_WORKERS=4         requests it serves at once
 *   BENCH_KILL_AFTER_MS=5000  how long after the sync started the worker is killed
 *   BENCH_CRASH_ROUNDS=1    pairs of runs (fresh, then crash), back to back
 *
 * One simulator process (Odoo 17, XML-RPC, seed 1) with the slow server of bench/etl/latency.ts;
 * each run on a fresh database, the worker driven through the `etl` queue:
 *
 * - fresh: one full sync, its job's processedOn → finishedOn;
 * - crash: a full sync; BENCH_KILL_AFTER_MS after its job started, SIGKILL (nothing handed back:
 *   its leases, partitions and BullMQ job stay as they were); a new worker process on the same
 *   queue and database; a new full sync enqueued at once (as `pnpm etl:run --full` would). The time
 *   is from the first job's processedOn to the second job's finishedOn: the part done before the
 *   kill, the restart, and whatever the second run waits for or reads again. The killed job itself
 *   comes back on its own once BullMQ sees it stalled (its lock expired: 30–60 s after the kill);
 *   when it came back and finished is printed too, and the copy is checked once it has.
 *
 * The copy is checked against the source once the worker is idle: per model, the ids Odoo has
 * (archived records included) are exactly the ids of the live rows, and no partition is left. Needs
 * PostgreSQL and Redis like the tests (TEST_DATABASE_URL, TEST_REDIS_URL).
 */
import { execFileSync } from "node:child_process";
import { createPool } from "../../packages/db/src/index.js";
import { REGISTRY, tableOf } from "../../packages/ledger/src/index.js";
import { createOdooClient } from "../../packages/odoo/src/index.js";
import { freshDatabase, pageSize, startSimulator, startWorker } from "./harness.js";

const scale = Number(process.argv[2] ?? 10);
const pageMs = Number(process.env.BENCH_PAGE_MS ?? 300);
const requestMs = Number(process.env.BENCH_REQUEST_MS ?? 10);
const workers = Number(process.env.BENCH_WORKERS ?? 4);
const killAfterMs = Number(process.env.BENCH_KILL_AFTER_MS ?? 5000);
const rounds = Number(process.env.BENCH_CRASH_ROUNDS ?? 1);
const log = (line: string) => process.stdout.write(`${line}\n`);
const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const port = 21_000 + Math.floor(Math.random() * 2000);
const sim = await startSimulator(scale, port);
const slow = { latencyMs: requestMs, perRecordMs: pageMs / Number(pageSize), workers };
const fast = { latencyMs: 0, perRecordMs: 0, workers: 0 };
const counts = await sim.counts();
const models = REGISTRY.map((m) => m.model).filter((m) => counts[m] !== undefined);
const records = models.reduce((n, m) => n + (counts[m] ?? 0), 0);
log(
  `scale ${scale}: ${records} records in ${models.length} models; the slow server: ${pageMs} ms per page of ${pageSize} ` +
    `+ ${requestMs} ms per request, ${workers} workers; the worker killed ${seconds(killAfterMs)} after its sync started`,
);

/** Differences between the copy and the source (ids per model), and partitions left behind. */
async function differences(databaseUrl: string): Promise<string[]> {
  await sim.perform(fast);
  const odoo = createOdooClient({ url: sim.url, db: "odoo", username: "admin", password: "admin" });
  const pool = createPool({ url: databaseUrl, max: 1 });
  const diffs: string[] = [];
  try {
    for (const model of models) {
      const source = await odoo.search(model, [], { order: "id asc", context: { active_test: false } });
      const { rows } = await pool.query<{ id: number }>(
        `select id from odoo.${tableOf(model)} where _deleted_at is null order by id`,
      );
      const copy = rows.map((r) => Number(r.id));
      const have = new Set(copy);
      const missing = source.filter((id) => !have.has(id)).length;
      const known = new Set(source);
      const extra = copy.filter((id) => !known.has(id)).length;
      if (missing || extra || copy.length !== source.length)
        diffs.push(
          `${model}: ${source.length} in Odoo, ${copy.length} copied, ${missing} missing, ${extra} extra`,
        );
    }
    const left = await pool.query<{ n: number }>("select count(*)::int as n from etl.partitions");
    if (left.rows[0]?.n) diffs.push(`${left.rows[0].n} partitions left`);
  } finally {
    await pool.end();
    await odoo.close();
    await sim.perform(slow);
  }
  return diffs;
}

/** Live rows copied so far, every model. */
async function copied(databaseUrl: string): Promise<number> {
  const pool = createPool({ url: databaseUrl, max: 1 });
  try {
    let n = 0;
    for (const model of models) {
      const { rows } = await pool.query<{ n: number }>(
        `select count(*)::int as n from odoo.${tableOf(model)} where _deleted_at is null`,
      );
      n += rows[0]?.n ?? 0;
    }
    return n;
  } finally {
    await pool.end();
  }
}

interface Outcome {
  ms: number;
  diffs: string[];
  note: string;
}

async function fresh(): Promise<Outcome> {
  const db = await freshDatabase("crash");
  try {
    const w = await startWorker(db.url, sim.url, port + 1);
    try {
      const { ms, fetched } = await w.runJob("full");
      return { ms, diffs: await differences(db.url), note: `${fetched} records read` };
    } finally {
      await w.stop();
    }
  } finally {
    await db.drop();
  }
}

async function crash(): Promise<Outcome> {
  const db = await freshDatabase("crash");
  try {
    const first = await startWorker(db.url, sim.url, port + 2);
    const id = await first.enqueue("full");
    const startedOn = await first.started(id);
    await new Promise((r) => setTimeout(r, Math.max(0, startedOn + killAfterMs - Date.now())));
    await first.kill();
    const killedAt = Date.now();
    const before = await copied(db.url);
    const second = await startWorker(db.url, sim.url, port + 3, {}, first.prefix);
    try {
      const restarted = Date.now();
      const again = await second.finish(await second.enqueue("full"), "sync after the crash");
      const waits = second.worker
        .output()
        .split("\n")
        .filter(
          (l) =>
            l.includes("model is being synced by another run") &&
            l.includes(`"runId":${again.result.runId},`),
        ).length;
      const ms = again.finishedOn - startedOn;
      // The killed job, once BullMQ has handed it out again (the copy is checked once it is done).
      const back = await second.finish(id, "the killed job, again").then(
        (r) =>
          `the killed job back ${seconds(r.processedOn - killedAt)} after the kill, finished at ${seconds(r.finishedOn - startedOn)}`,
        (error: Error) => `the killed job: ${error.message}`,
      );
      const note =
        `killed at ${seconds(killedAt - startedOn)} with ${before} of ${records} records copied; ` +
        `the new worker ready ${seconds(restarted - killedAt)} later; its sync ${seconds(again.ms)}, ` +
        `${again.fetched} records read, ${waits} waits for another run's lease; ${back}`;
      return { ms, diffs: await differences(db.url), note };
    } finally {
      await second.stop();
    }
  } finally {
    await db.drop();
  }
}

try {
  await sim.perform(slow);
  const pairs: { fresh: Outcome; crash: Outcome }[] = [];
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}, before: ${uptime()}`);
    const a = await fresh();
    log(
      `  fresh full sync: ${seconds(a.ms)} (${a.note}); copy ${a.diffs.length ? a.diffs.join("; ") : "= source"}`,
    );
    log(`  between: ${uptime()}`);
    const b = await crash();
    log(
      `  killed, restarted, synced again: ${seconds(b.ms)} (${b.note}); copy ${b.diffs.length ? b.diffs.join("; ") : "= source"}`,
    );
    log(`  after: ${uptime()}`);
    pairs.push({ fresh: a, crash: b });
  }
  log(
    `\n| round | fresh full sync | killed at ${seconds(killAfterMs)}, restarted, synced again | crash / fresh | copy = source |`,
  );
  log("| --- | ---: | ---: | ---: | --- |");
  for (const [i, p] of pairs.entries()) {
    const same = p.fresh.diffs.length + p.crash.diffs.length === 0 ? "yes, both" : "NO";
    const ratio = (p.crash.ms / p.fresh.ms).toFixed(2);
    log(`| ${i + 1} | ${seconds(p.fresh.ms)} | ${seconds(p.crash.ms)} | **${ratio}×** | ${same} |`);
  }
  if (pairs.some((p) => p.fresh.diffs.length + p.crash.diffs.length > 0)) process.exitCode = 1;
} finally {
  sim.stop();
}
process.exit(process.exitCode ?? 0);
