/**
 * What the ETL benches share: starting a process and waiting for its ready line, a fresh migrated
 * database, and the built etl-worker driven through the `etl` queue like production.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
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

export async function freshDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `finanzas_bench_${label}_${randomBytes(3).toString("hex")}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrateToLatest(url.toString());
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
) {
  const prefix = `bench-etl-${randomBytes(3).toString("hex")}`;
  const worker = await start(
    [
      // BENCH_CPU_PROF=<dir>: the worker under --cpu-prof (not allowed in NODE_OPTIONS); sum it
      // with `node bench/api/profile.mjs <file>`.
      ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      "apps/etl-worker/dist/main.js",
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
  return {
    worker,
    /** Runs a sync job; its wall time is the job's processedOn → finishedOn. */
    async runJob(mode: "full" | "incremental") {
      const { id } = await producer.add("sync", { mode, requestedBy: "bench" }, { attempts: 1 });
      const job = await producer.queue.getJob(id);
      const out = (await job!.waitUntilFinished(events)) as RunResult;
      const done = await producer.queue.getJob(id);
      const ms = (done?.finishedOn ?? 0) - (done?.processedOn ?? 0);
      if (out.status !== "succeeded") throw new Error(`sync ${mode} ${out.status}`);
      return { ms, fetched: out.models.reduce((n, m) => n + m.fetched, 0), result: out };
    },
    async stop() {
      await producer.close();
      await events.close();
      worker.child.kill("SIGTERM");
      await new Promise((r) => worker.child.once("exit", r));
    },
  };
}
