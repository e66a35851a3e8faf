/**
 * ETL benchmark: the real etl-worker process (apps/etl-worker/dist) syncing the Odoo simulator
 * (its own process, Odoo 17 over XML-RPC) into PostgreSQL, driven through the `etl` queue.
 *
 *   pnpm exec turbo run build --filter=etl-worker --filter=@finanzas/odoo-sim
 *   pnpm exec tsx bench/etl/run.ts [scale=50]     # scale 50 ≈ 500 000 journal items
 *
 * Measures, at scale/4 and at scale: full-sync wall time, rows/s and the worker's peak RSS; at
 * scale also an incremental sync after 1% of journal items and moves changed, a read-only pass over
 * the same pages (bench/etl/baseline.ts read-only) and the same load written one INSERT per row
 * (baseline.ts per-row). Needs PostgreSQL and Redis like the tests (TEST_DATABASE_URL, TEST_REDIS_URL).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createOdooClient } from "../../packages/odoo/src/index.js";
import { cpuSecondsOf, machineBusy, postgresCpu } from "../proc.js";
import { freshDatabase, pageSize, root, start, startWorker } from "./harness.js";

const scale = Number(process.argv[2] ?? 50);
/** BENCH_ETL_QUICK=1: only the big phase's full sync, read-only pass and incremental (no scale/4 run, no per-row baseline). */
const quick = process.env.BENCH_ETL_QUICK === "1";
const perRow = !quick;
/** BENCH_ETL_PAIRS=n: n more adjacent read-only/full pairs before the measured ones (default 2). */
const extraPairs = Number(process.env.BENCH_ETL_PAIRS ?? 2);
const log = (line: string) => process.stdout.write(`${line}\n`);

const cpuOf = cpuSecondsOf;

interface Cpu {
  sim: number;
  client: number;
  postgres: number;
  machine: number;
}
const cpuText = (c: Cpu, client: string) =>
  `CPU s: simulator ${c.sim.toFixed(1)}, ${client} ${c.client.toFixed(1)}, PostgreSQL ${c.postgres.toFixed(1)}, machine ${c.machine.toFixed(1)}`;

const peakRssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
};

function baseline(mode: "read-only" | "read-only-stream" | "per-row", odooUrl: string, databaseUrl?: string) {
  return new Promise<{ ms: number; records: number; maxRssMb: number; cpuSeconds: number }>(
    (resolve, reject) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "bench/etl/baseline.ts", mode, odooUrl, ...(databaseUrl ? [databaseUrl] : [])],
        {
          cwd: root,
          env: { ...process.env, ODOO_PAGE_SIZE: pageSize },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      child.stdout.on("data", (c) => {
        out += c;
      });
      child.on("exit", (code) =>
        code === 0
          ? resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}"))
          : reject(new Error(`${mode} exited ${code}: ${out}`)),
      );
    },
  );
}

/**
 * An extra read-only pass and full sync, back to back (a fresh database and worker): on a shared VM
 * whose speed drifts from minute to minute, the ratio of adjacent runs is what compares.
 */
async function pair(odooUrl: string, port: number): Promise<{ readOnlyMs: number; fullMs: number }> {
  const ro = await baseline("read-only", odooUrl);
  const db = await freshDatabase("pair");
  try {
    const w = await startWorker(db.url, odooUrl, port + 2);
    try {
      return { readOnlyMs: ro.ms, fullMs: (await w.runJob("full")).ms };
    } finally {
      await w.stop();
    }
  } finally {
    await db.drop();
  }
}

interface Phase {
  scale: number;
  records: number;
  lines: number;
  full: { ms: number; rss: number; fetched: number };
  incremental?: { ms: number; fetched: number; changed: number };
  readOnly?: { ms: number; records: number; cpu: Cpu };
  /** The same pages read as the sync decodes them, into nothing. */
  readOnlyStream?: { ms: number; records: number; cpuSeconds: number };
  perRow?: { ms: number; records: number };
  fullCpu?: Cpu;
  /** Extra adjacent read-only/full pairs (BENCH_ETL_PAIRS). */
  pairs?: { readOnlyMs: number; fullMs: number }[];
}

async function phase(s: number, withBaselines: boolean): Promise<Phase> {
  const port = 18_000 + Math.floor(Math.random() * 2000);
  const sim = await start(
    [
      "packages/odoo-sim/dist/cli.js",
      "--port",
      String(port),
      "--scale",
      String(s),
      "--seed",
      "1",
      "--version",
      "17",
    ],
    {},
    "simulator ready",
  );
  const odooUrl = `http://127.0.0.1:${port}`;
  const lines = Number(/data: (\d+) journal items/.exec(sim.output())?.[1] ?? 0);
  log(
    `\n== scale ${s}: ${lines} journal items (${sim
      .output()
      .split("\n")
      .find((l) => l.includes("data:"))
      ?.trim()})`,
  );
  const db = await freshDatabase("etl");
  const result: Partial<Phase> = { scale: s, lines };
  try {
    if (withBaselines && extraPairs > 0) {
      result.pairs = [];
      for (let i = 0; i < extraPairs; i++) {
        const p = await pair(odooUrl, port);
        result.pairs.push(p);
        log(
          `pair ${i + 1}: read-only ${(p.readOnlyMs / 1000).toFixed(1)} s, full sync ${(p.fullMs / 1000).toFixed(1)} s = ${(p.fullMs / p.readOnlyMs).toFixed(2)}×`,
        );
      }
    }
    if (withBaselines) {
      const before = { sim: cpuOf(sim.child.pid!), postgres: postgresCpu(), machine: machineBusy() };
      const ro = await baseline("read-only", odooUrl);
      const cpu = {
        sim: cpuOf(sim.child.pid!) - before.sim,
        client: ro.cpuSeconds,
        postgres: postgresCpu() - before.postgres,
        machine: machineBusy() - before.machine,
      };
      result.readOnly = { ...ro, cpu };
      log(
        `read-only pass: ${ro.records} records in ${(ro.ms / 1000).toFixed(1)} s (${Math.round(ro.records / (ro.ms / 1000))} rows/s); ${cpuText(cpu, "reader")}`,
      );
      const stream = await baseline("read-only-stream", odooUrl);
      result.readOnlyStream = stream;
      log(
        `read-only pass decoded as the sync decodes (into nothing): ${stream.records} records in ${(stream.ms / 1000).toFixed(1)} s; reader CPU ${stream.cpuSeconds.toFixed(1)} s`,
      );
    }
    const { worker, runJob, stop } = await startWorker(db.url, odooUrl, port + 1);
    const before = {
      sim: cpuOf(sim.child.pid!),
      client: cpuOf(worker.child.pid!),
      postgres: postgresCpu(),
      machine: machineBusy(),
    };
    const full = await runJob("full");
    const fullCpu = {
      sim: cpuOf(sim.child.pid!) - before.sim,
      client: cpuOf(worker.child.pid!) - before.client,
      postgres: postgresCpu() - before.postgres,
      machine: machineBusy() - before.machine,
    };
    result.fullCpu = fullCpu;
    const rss = peakRssMb(worker.child.pid!);
    result.full = { ...full, rss };
    result.records = full.fetched;
    log(
      `full sync: ${full.fetched} records in ${(full.ms / 1000).toFixed(1)} s (${Math.round(full.fetched / (full.ms / 1000))} rows/s), worker peak RSS ${rss} MB; ${cpuText(fullCpu, "worker")}`,
    );
    // Each model's phases (full pass, catch-up of what changed meanwhile, deletion reconciliation).
    const phases = worker
      .output()
      .split("\n")
      .filter((l) => l.includes('"msg":"model succeeded"'))
      .map((l) => JSON.parse(l) as { model: string; phaseMs?: Record<string, number> })
      .map((l) => `${l.model} ${JSON.stringify(l.phaseMs ?? {}).replace(/"/g, "")}`);
    log(`  phases (ms): ${phases.join("; ")}`);
    if (withBaselines) {
      // 1% of journal items and of moves change, in transactions of 100 records.
      const odoo = createOdooClient({ url: odooUrl, db: "odoo", username: "admin", password: "admin" });
      let changed = 0;
      for (const model of ["account.move.line", "account.move"]) {
        const ids = await odoo.search(model, [], { order: "id asc", context: { active_test: false } });
        const pick = ids.filter((_, i) => i % 100 === 0);
        for (let i = 0; i < pick.length; i += 100) {
          const res = await fetch(`${odooUrl}/__sim/update`, {
            method: "POST",
            body: JSON.stringify({ model, ids: pick.slice(i, i + 100), values: { ref: `bench ${i}` } }),
          });
          if (!res.ok) throw new Error(`sim update: ${res.status} ${await res.text()}`);
        }
        changed += pick.length;
      }
      await odoo.close();
      const inc = await runJob("incremental");
      result.incremental = { ...inc, changed };
      log(
        `incremental after ${changed} changes (1%): ${inc.fetched} records read in ${(inc.ms / 1000).toFixed(2)} s`,
      );
    }
    await stop();
    if (withBaselines && perRow) {
      const db2 = await freshDatabase("perrow");
      try {
        const pr = await baseline("per-row", odooUrl, db2.url);
        result.perRow = pr;
        log(
          `one INSERT per row: ${pr.records} records in ${(pr.ms / 1000).toFixed(1)} s (${Math.round(pr.records / (pr.ms / 1000))} rows/s)`,
        );
      } finally {
        await db2.drop();
      }
    }
  } finally {
    sim.child.kill("SIGTERM");
    await db.drop();
  }
  return result as Phase;
}

const small = quick ? undefined : await phase(scale / 4, false);
const big = await phase(scale, true);
const ratio = (a: number, b: number) => (a / b).toFixed(2);
log("\n| measure | value | target |");
log("| --- | ---: | --- |");
log(
  `| full sync, ${big.records} records (${big.lines} journal items) | ${(big.full.ms / 1000).toFixed(1)} s, ${Math.round(big.records / (big.full.ms / 1000))} rows/s | |`,
);
if (big.readOnly) log(`| read-only pass, same pages | ${(big.readOnly.ms / 1000).toFixed(1)} s | |`);
if (big.readOnly) {
  const all = [...(big.pairs ?? []).map((p) => p.fullMs / p.readOnlyMs), big.full.ms / big.readOnly.ms].sort(
    (a, b) => a - b,
  );
  const median = all[Math.floor(all.length / 2)] ?? 0;
  log(
    `| full sync / read-only pass | ${ratio(big.full.ms, big.readOnly.ms)}×${all.length > 1 ? `; over ${all.length} adjacent pairs: ${all.map((r) => r.toFixed(2)).join(", ")}, median **${median.toFixed(2)}×**` : ""} | ≤ 1.25× |`,
  );
}
if (big.readOnlyStream)
  log(
    `| read-only pass decoded as the sync decodes, into nothing | ${(big.readOnlyStream.ms / 1000).toFixed(1)} s; full sync = ${ratio(big.full.ms, big.readOnlyStream.ms)}× of it | |`,
  );
if (big.perRow)
  log(
    `| one INSERT per row, same load | ${(big.perRow.ms / 1000).toFixed(1)} s (${ratio(big.perRow.ms, big.full.ms)}× the full sync) | |`,
  );
log(
  `| worker peak RSS at ${small?.lines ?? "-"} / ${big.lines} journal items | ${small?.full.rss ?? "-"} / ${big.full.rss} MB | < 300 MB, flat |`,
);
if (big.incremental)
  log(
    `| incremental after 1% changed (${big.incremental.changed} records) | ${(big.incremental.ms / 1000).toFixed(2)} s = ${((100 * big.incremental.ms) / big.full.ms).toFixed(1)}% of full | < 5% |`,
  );
process.exit(0);
