/**
 * ETL against a slow, busy Odoo: the real etl-worker process syncing the simulator (its own process,
 * Odoo 17 over XML-RPC) while the simulator takes a real server's time per page and serves a fixed
 * number of requests at once, the rest waiting in line as on Odoo's prefork server.
 *
 *   pnpm exec turbo run build --filter=etl-worker --filter=@finanzas/odoo-sim
 *   pnpm exec tsx bench/etl/latency.ts [scale=10]
 *   BENCH_PAGE_MS=300     the server's time for a page of ODOO_PAGE_SIZE records (charged per record read)
 *   BENCH_REQUEST_MS=10   its fixed time per request (counts, fields_get, the login)
 *   BENCH_WORKERS=4       requests it serves at once
 *   BENCH_SEQUENTIAL=0    skip the sequential run (the longest)
 *   BENCH_BASELINE=dir    also run the etl-worker of another checkout, built (e.g. `git worktree add
 *                         /tmp/before <commit>`, then pnpm install and turbo build there), with its
 *                         own defaults and migrations: the pass as it was at that commit
 *   BENCH_WORKER_LOG=dir  keep each run's etl-worker log there
 *   BENCH_SIM_CPU_PROF=dir, BENCH_CPU_PROF=dir   the simulator, the worker under --cpu-prof
 *
 * Three full syncs, each on a fresh database with a fresh worker, driven through the `etl` queue:
 *
 * 1. on the server answering at once (no latency, no worker limit): the same sync's own cost;
 * 2. on the slow server, with the worker's defaults (partitioned passes, ODOO_MAX_CONCURRENCY=4);
 * 3. on the slow server, reading every model one page after another (ETL_PARTITION_MIN_RECORDS=0:
 *    no partition, no split window), as the worker did before partitioned passes;
 * 4. with BENCH_BASELINE, on the slow server, another checkout's etl-worker: the same comparison
 *    against the code itself as it was (before partitioned passes, it read one page after another
 *    too, without this checkout's other changes to the reading).
 *
 * The ideal is the full passes' pages (⌈records / page size⌉ per model) × the time per page ÷ the
 * server's workers, plus the sync on the server without latency. Needs PostgreSQL and Redis like the
 * tests (TEST_DATABASE_URL, TEST_REDIS_URL).
 */

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { REGISTRY } from "../../packages/ledger/src/index.js";
import { cpuSecondsOf, machineBusy, postgresCpu } from "../proc.js";
import { freshDatabase, pageSize, startSimulator, startWorker } from "./harness.js";

const scale = Number(process.argv[2] ?? 10);
const pageMs = Number(process.env.BENCH_PAGE_MS ?? 300);
const requestMs = Number(process.env.BENCH_REQUEST_MS ?? 10);
const workers = Number(process.env.BENCH_WORKERS ?? 4);
const sequential = process.env.BENCH_SEQUENTIAL !== "0";
const baseline = process.env.BENCH_BASELINE;
const cores = availableParallelism();
/** A checkout by its commit: `<dir> at <short hash>`. */
const describe = (dir: string): string => {
  try {
    return `${dir} at ${execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim()}`;
  } catch {
    return dir;
  }
};
const log = (line: string) => process.stdout.write(`${line}\n`);

const port = 19_000 + Math.floor(Math.random() * 2000);
const simulator = await startSimulator(scale, port);
const odooUrl = simulator.url;
const control = simulator.control;
const slow = { latencyMs: requestMs, perRecordMs: pageMs / Number(pageSize), workers };
const fast = { latencyMs: 0, perRecordMs: 0, workers: 0 };

const counts = (await control("info")).counts as Record<string, number>;
const models = REGISTRY.map((m) => m.model).filter((m) => counts[m] !== undefined);
const records = models.reduce((n, m) => n + (counts[m] ?? 0), 0);
const pages = models.reduce((n, m) => n + Math.ceil((counts[m] ?? 0) / Number(pageSize)), 0);
log(
  `scale ${scale}: ${records} records in ${models.length} models, ${pages} pages of ${pageSize}; ` +
    `the slow server: ${pageMs} ms per page (${slow.perRecordMs} ms per record) + ${requestMs} ms per request, ${workers} workers`,
);

interface Run {
  label: string;
  ms: number;
  fetched: number;
  requests: number;
  pagesRead: number;
  peakInFlight: number;
  phases: string[];
  /** Share of the time the server's workers were serving this sync. */
  busy: number | undefined;
  /** The worker's adaptive limit on requests in flight: how often it moved, how low it went. */
  limits: { changes: number; lowest: number | undefined; reasons: string[] };
}

async function fullSync(
  label: string,
  perf: typeof slow,
  settings: Record<string, string>,
  checkout?: string,
): Promise<Run> {
  await control("performance", perf);
  const db = await freshDatabase("latency", checkout);
  try {
    const w = await startWorker(db.url, odooUrl, port + 1, settings, undefined, checkout);
    try {
      await control("stats/reset", {});
      // The server's requests in flight, busy workers and waiting requests, sampled while it syncs.
      const samples: { inFlight: number; busy: number; queued: number }[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          samples.push((await control("stats")).concurrency as (typeof samples)[number]);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      const cpu = () => ({
        sim: cpuSecondsOf(simulator.pid),
        worker: cpuSecondsOf(w.worker.child.pid),
        postgres: postgresCpu(),
        machine: machineBusy(),
      });
      const before = cpu();
      const jobStart = Date.now();
      const { ms, fetched } = await w.runJob("full").finally(() => {
        sampling = false;
      });
      const after = cpu();
      await sampler;
      const mean = (k: keyof (typeof samples)[number]) =>
        samples.reduce((n, x) => n + x[k], 0) / Math.max(1, samples.length);
      const stats = (await control("stats")) as {
        total: number;
        byModelMethod: Record<string, number>;
        concurrency: { peakInFlight: number; busyMs: number };
        eventLoopDelay?: { meanMs: number; p99Ms: number; maxMs: number };
      };
      const pagesRead = Object.entries(stats.byModelMethod)
        .filter(([k]) => k.endsWith(".search_read"))
        .reduce((n, [, v]) => n + v, 0);
      const phases = w.worker
        .output()
        .split("\n")
        .filter((l) => l.includes('"msg":"model succeeded"'))
        .map((l) => JSON.parse(l) as { model: string; phaseMs?: Record<string, number> })
        .map((l) => `${l.model} ${JSON.stringify(l.phaseMs ?? {}).replace(/"/g, "")}`);
      const changes = w.worker
        .output()
        .split("\n")
        .filter((l) => l.includes('"msg":"Odoo requests in flight: new limit"'))
        .map((l) => JSON.parse(l) as { from: number; to: number; reason: string; time: string });
      const limits = {
        changes: changes.length,
        lowest: changes.length ? Math.min(...changes.map((c) => c.to)) : undefined,
        reasons: [
          ...new Set(changes.filter((c) => c.to < c.from).map((c) => c.reason.replace(/[\d.]+×/, "n×"))),
        ],
      };
      const run = {
        label,
        limits,
        ms,
        fetched,
        requests: stats.total,
        pagesRead,
        peakInFlight: stats.concurrency.peakInFlight,
        phases,
        busy: perf.workers ? stats.concurrency.busyMs / (perf.workers * ms) : undefined,
      };
      log(
        `${label}: ${(ms / 1000).toFixed(1)} s, ${fetched} records read, ${run.requests} requests ` +
          `(${pagesRead} search_read), at most ${run.peakInFlight} in flight` +
          (run.busy !== undefined
            ? `, the server's workers busy ${(100 * run.busy).toFixed(0)} % of the time`
            : ""),
      );
      log(
        `  at the server, on average: ${mean("inFlight").toFixed(2)} requests in flight, ${mean("busy").toFixed(2)} workers busy, ` +
          `${mean("queued").toFixed(2)} waiting (${samples.length} samples)`,
      );
      // Where the two cores went: a real Odoo's CPU is on another machine, the simulator's is here.
      const spent = (k: keyof typeof before) => (after[k] - before[k]).toFixed(1);
      log(
        `  CPU s: simulator ${spent("sim")}, etl-worker ${spent("worker")}, PostgreSQL ${spent("postgres")}, ` +
          `machine ${spent("machine")} of ${((cores * ms) / 1000).toFixed(1)} on ${cores} cores`,
      );
      if (stats.eventLoopDelay)
        log(
          `  the simulator's thread late by ${stats.eventLoopDelay.meanMs} ms on average, ` +
            `${stats.eventLoopDelay.p99Ms} ms at p99, ${stats.eventLoopDelay.maxMs} ms at most`,
        );
      log(`  phases (ms): ${phases.join("; ")}`);
      if (limits.changes)
        log(
          `  the adaptive limit moved ${limits.changes} times, down to ${limits.lowest} (${limits.reasons.join("; ")})`,
        );
      // Where the server's workers sat idle: requests in flight over each tenth of the run, and
      // when the limit moved (seconds since the job started).
      if (samples.length >= 10) {
        const tenths = Array.from({ length: 10 }, (_, k) => {
          const part = samples.slice(
            Math.floor((k * samples.length) / 10),
            Math.floor(((k + 1) * samples.length) / 10),
          );
          return (part.reduce((n, x) => n + x.inFlight, 0) / Math.max(1, part.length)).toFixed(1);
        });
        log(`  requests in flight at the server, by tenth of the run: ${tenths.join(" ")}`);
      }
      if (changes.length)
        log(
          `  the limit: ${changes
            .map((c) => `${((Date.parse(c.time) - jobStart) / 1000).toFixed(1)} s ${c.from}→${c.to}`)
            .join(", ")}`,
        );
      return run;
    } finally {
      await w.stop();
      // BENCH_WORKER_LOG=<dir>: the worker's log of each run kept there (its JSON lines).
      if (process.env.BENCH_WORKER_LOG)
        writeFileSync(
          `${process.env.BENCH_WORKER_LOG}/${label.replace(/[^a-z0-9]+/gi, "-")}.log`,
          w.worker.output(),
        );
    }
  } finally {
    await db.drop();
  }
}

try {
  const free = await fullSync("no latency, partitioned (defaults)", fast, {});
  const parts = await fullSync("slow server, partitioned (defaults)", slow, {});
  const seq = sequential
    ? await fullSync("slow server, one page after another", slow, { ETL_PARTITION_MIN_RECORDS: "0" })
    : undefined;
  const before = baseline
    ? await fullSync(`slow server, the etl-worker of ${describe(baseline)}`, slow, {}, baseline)
    : undefined;
  const latencyPart = (pages * pageMs) / workers;
  const ideal = latencyPart + free.ms;
  log("\n| measure | value | target |");
  log("| --- | ---: | --- |");
  log(`| records (journal items) | ${records} (${counts["account.move.line"]}) | |`);
  log(
    `| ideal: ${pages} pages × ${pageMs} ms ÷ ${workers} workers + the sync without latency | ${(latencyPart / 1000).toFixed(1)} + ${(free.ms / 1000).toFixed(1)} = ${(ideal / 1000).toFixed(1)} s | |`,
  );
  log(
    `| full sync, partitioned (defaults) | ${(parts.ms / 1000).toFixed(1)} s = **${(parts.ms / ideal).toFixed(2)}×** the ideal; ${parts.peakInFlight} requests in flight at most | ≤ 1.3× |`,
  );
  if (seq)
    log(
      `| full sync, one page after another | ${(seq.ms / 1000).toFixed(1)} s: partitioned **${(seq.ms / parts.ms).toFixed(2)}×** faster | ≥ 3× at scale 50 |`,
    );
  if (before)
    log(
      `| full sync, the etl-worker of ${describe(baseline as string)} | ${(before.ms / 1000).toFixed(1)} s: partitioned **${(before.ms / parts.ms).toFixed(2)}×** faster | |`,
    );
} finally {
  simulator.stop();
}
process.exit(0);
