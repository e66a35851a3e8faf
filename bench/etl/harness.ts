/**
 * What the ETL benches share: starting a process and waiting for its ready line, a fresh migrated
 * database, and the built etl-worker driven through the `etl` queue like production.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { etlQueue, type RunResult } from "../../packages/contracts/src/index.js";
import { createPool, migrateToLatest } from "../../packages/db/src/index.js";
import { createProducer, QueueEvents, redisOptions } from "../../packages/queue/src/index.js";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const pageSize = process.env.ODOO_PAGE_SIZE ?? "1000";

export function start(
  args: string[],
  env: Record<string, string>,
  readyText: string,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (c) => {
    output += c;
    if (output.length > 200_000) output = output.slice(-100_000);
  });
  child.stderr?.on("data", (c) => {
    output += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes(readyText)) {
        clearInterval(timer);
        resolve({ child, output: () => output });
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`${args.join(" ")} exited: ${output}`));
      }
    }, 50);
  });
}

/**
 * A new database migrated to the latest schema: this checkout's, or, given `checkout` (another
 * checkout of the repository, built), that one's, by its own migrate command (which creates it).
 */
export async function freshDatabase(
  label: string,
  checkout?: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `finanzas_bench_${label}_${randomBytes(3).toString("hex")}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  if (checkout) {
    const migrate = spawnSync(process.execPath, [join(checkout, "packages/db/dist/migrate-cli.js")], {
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: url.toString(), LOG_LEVEL: "warn" },
      encoding: "utf8",
    });
    if (migrate.status !== 0)
      throw new Error(`the migrations of ${checkout} failed: ${migrate.stderr}${migrate.stdout}`);
  } else await migrateToLatest(url.toString());
  return {
    url: url.toString(),
    drop: async () => {
      const admin = createPool({ url: adminUrl, max: 1 });
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** The built etl-worker on a database, driven through the `etl` queue like production. */
export async function startWorker(
  databaseUrl: string,
  odooUrl: string,
  healthPort: number,
  /** Settings of this worker, over the ETL_* variables of the bench's environment. */
  settings: Record<string, string> = {},
  /** The queue's prefix: another worker's, to take over its queue (a restart). */
  prefix = `bench-etl-${randomBytes(3).toString("hex")}`,
  /** Another checkout of the repository, built: its etl-worker instead of this one's. */
  checkout?: string,
) {
  const worker = await start(
    [
      // BENCH_CPU_PROF=<dir>: the worker under --cpu-prof (not allowed in NODE_OPTIONS); sum it
      // with `node bench/api/profile.mjs <file>`.
      ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      checkout ? join(checkout, "apps/etl-worker/dist/main.js") : "apps/etl-worker/dist/main.js",
    ],
    {
      NODE_ENV: "production",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      HEALTH_PORT: String(healthPort),
      ODOO_URL: odooUrl,
      ODOO_DB: "odoo",
      ODOO_USERNAME: "admin",
      ODOO_PASSWORD: "admin",
      // the simulator's default password, the demo's: let through on this machine nobody reaches
      ALLOW_DEMO_SECRETS: "true",
      ODOO_PAGE_SIZE: pageSize,
      // The worker's own settings (ETL_READER_THREADS, ETL_MODEL_CONCURRENCY, …) pass through.
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => k.startsWith("ETL_") || k === "ODOO_MAX_CONCURRENCY"),
      ),
      ...settings,
      ...(process.env.BENCH_WORKER_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS }
        : {}),
    },
    '"msg":"ready"',
  );
  const producer = createProducer(etlQueue, { redisUrl, prefix });
  const events = new QueueEvents(etlQueue.name, { connection: redisOptions(redisUrl, "worker"), prefix });
  await events.waitUntilReady();
  /** Enqueues a sync job (one attempt); returns its id. */
  const enqueue = async (mode: "full" | "incremental") =>
    (await producer.add("sync", { mode, requestedBy: "bench" }, { attempts: 1 })).id;
  /** Waits for a job to finish; its wall time is its processedOn → finishedOn (epoch ms). */
  const finish = async (id: string, mode = "sync") => {
    const job = await producer.queue.getJob(id);
    const out = (await job!.waitUntilFinished(events)) as RunResult;
    const done = await producer.queue.getJob(id);
    const processedOn = done?.processedOn ?? 0;
    const finishedOn = done?.finishedOn ?? 0;
    if (out.status !== "succeeded") throw new Error(`${mode} ${out.status}`);
    return {
      ms: finishedOn - processedOn,
      processedOn,
      finishedOn,
      fetched: out.models.reduce((n, m) => n + m.fetched, 0),
      result: out,
    };
  };
  return {
    worker,
    prefix,
    enqueue,
    finish,
    /** When a job started (epoch ms), once a worker has taken it. */
    async started(id: string, timeoutMs = 60_000): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const processedOn = (await producer.queue.getJob(id))?.processedOn;
        if (processedOn) return processedOn;
        if (Date.now() > deadline) throw new Error(`job ${id} not started`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** Runs a sync job; its wall time is the job's processedOn → finishedOn. */
    async runJob(mode: "full" | "incremental") {
      return finish(await enqueue(mode), `sync ${mode}`);
    },
    /** SIGKILL: the process dies where it is, nothing handed back. */
    async kill() {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        const exited = new Promise((r) => worker.child.once("exit", r));
        worker.child.kill("SIGKILL");
        await exited;
      }
      await producer.close();
      await events.close();
    },
    async stop() {
      await producer.close();
      await events.close();
      worker.child.kill("SIGTERM");
      await new Promise((r) => worker.child.once("exit", r));
    },
  };
}

/** The server's cost per request, as the simulator's control API takes it. */
export interface SimPerformance {
  latencyMs: number;
  perRecordMs: number;
  workers: number;
}

/** The simulator in its own process (Odoo 17, XML-RPC, seed 1) and its control API. */
export async function startSimulator(scale: number, port: number) {
  const sim = await start(
    [
      // BENCH_SIM_CPU_PROF=<dir>: the simulator under --cpu-prof, like BENCH_CPU_PROF for the worker.
      ...(process.env.BENCH_SIM_CPU_PROF
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_SIM_CPU_PROF}`]
        : []),
      "packages/odoo-sim/dist/cli.js",
      "--port",
      String(port),
      "--scale",
      String(scale),
      "--seed",
      "1",
      "--version",
      "17",
    ],
    {},
    "simulator ready",
  );
  const url = `http://127.0.0.1:${port}`;
  const control = async (path: string, body?: unknown) => {
    const res = await fetch(`${url}/__sim/${path}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`simulator ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  return {
    url,
    control,
    /** The simulator's process id (for its CPU time). */
    pid: sim.child.pid,
    /** Records per model. */
    counts: async () => (await control("info")).counts as Record<string, number>,
    perform: (performance: SimPerformance) => control("performance", performance),
    stop: () => sim.child.kill("SIGTERM"),
  };
}
