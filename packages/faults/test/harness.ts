/**
 * The fault suite's stage: a PostgreSQL and a Redis of the suite's own (packages/testing's
 * instances: stopped, killed, frozen and restarted at will, never the machine's shared ones), the
 * Odoo simulator over HTTP, and the BUILT services (apps/<service>/dist/main.js, as a container
 * runs them) started as processes against them. Each scenario breaks something from outside,
 * measures how long the system takes to recover by itself, and checks what a user would notice:
 * the services still running, the answers they gave meanwhile, and the synced copy equal to the
 * source (nothing lost, nothing doubled).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { etlQueue } from "@finanzas/contracts";
import { createDb, type Db } from "@finanzas/db";
import type { OdooSimOptions } from "@finanzas/odoo-sim";
import { createProducer, type Producer } from "@finanzas/queue";
import {
  freePort,
  type PostgresInstance,
  type RedisInstance,
  type ServiceProcess,
  startPostgres,
  startProcess,
  startRedis,
  startTestOdoo,
  type TestOdoo,
  waitForHttpOk,
} from "@finanzas/testing";
import { diffWithSource } from "etl-worker/testing";

export const SERVICES = ["web-api", "etl-worker", "report-worker", "mailer", "scheduler"] as const;
export type ServiceName = (typeof SERVICES)[number];

const require = createRequire(import.meta.url);

/** The built entry point of a service (its package's dist/main.js). */
export const entryOf = (service: ServiceName): string =>
  join(dirname(require.resolve(`${service}/package.json`)), "dist", "main.js");

export const ADMIN = { email: "faults@example.com", password: "fault-suite-password-1" };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${last})` : ""}`);
    await sleep(everyMs);
  }
}

export interface Service {
  name: ServiceName;
  proc: ServiceProcess;
  /** Its HTTP port: the API's, or a worker's health port. */
  port: number;
  url: string;
  /** True while the process runs (it has not crashed). */
  alive(): boolean;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface Stack {
  pg: PostgresInstance;
  redis: RedisInstance;
  databaseUrl: string;
  /** The suite's own pool on the database (for checks; it rides out the faults like the services). */
  store: Db;
  odoo: TestOdoo;
  prefix: string;
  reportsDir: string;
  etl: Producer<typeof etlQueue>;
  /** Starts the built service with the stack's settings plus `env`; resolves once /health/ready answers 200. */
  start(name: ServiceName, env?: Record<string, string>): Promise<Service>;
  /** "The synced copy equals the source": the differences (empty = equal). */
  dataCheck(): Promise<string[]>;
  /** The output of every service started so far, for a failing assertion's message. */
  logs(): string;
  close(): Promise<void>;
}

export interface StackOptions {
  /** The simulator's data and behaviour (scale 0.05 ≈ 500 journal items). */
  odoo?: OdooSimOptions;
}

/**
 * A migrated database on a PostgreSQL of the suite's own, a Redis of its own, the Odoo simulator;
 * services are started on demand by `start`.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const [pg, redis, odoo] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTestOdoo({ seed: 11, scale: 0.1, ...options.odoo }),
  ]);
  const databaseUrl = await pg.createDatabase("finanzas");
  const store = createDb({ url: databaseUrl, max: 4, applicationName: "fault-suite" });
  const prefix = "faults";
  const reportsDir = mkdtempSync(join(tmpdir(), "finanzas-faults-reports-"));
  const etl = createProducer(etlQueue, { redisUrl: redis.url, prefix });
  const services: Service[] = [];

  const envOf = (name: ServiceName, port: number): Record<string, string> => {
    const common = {
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: "4",
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      SHUTDOWN_TIMEOUT_MS: "3000",
    };
    switch (name) {
      case "web-api":
        return {
          ...common,
          PORT: String(port),
          HOST: "127.0.0.1",
          JWT_SECRET: "fault-suite-jwt-secret-0123456789-abcdefghijklmnop",
          ADMIN_EMAIL: ADMIN.email,
          ADMIN_PASSWORD: ADMIN.password,
          REPORTS_DIR: reportsDir,
          RATE_LIMIT_MAX: "1000000",
          CACHE_TTL_SECONDS: "0",
        };
      case "etl-worker":
        return {
          ...common,
          HEALTH_PORT: String(port),
          ODOO_URL: odoo.sim.url,
          ODOO_DB: odoo.sim.database,
          ODOO_USERNAME: odoo.sim.username,
          ODOO_PASSWORD: odoo.sim.password,
          ETL_CONCURRENCY: "1",
        };
      case "report-worker":
      case "mailer":
        return { ...common, HEALTH_PORT: String(port), REPORTS_DIR: reportsDir };
      case "scheduler":
        return { ...common, HEALTH_PORT: String(port) };
    }
  };

  return {
    pg,
    redis,
    databaseUrl,
    store,
    odoo,
    prefix,
    reportsDir,
    etl,
    async start(name, env = {}) {
      const port = await freePort();
      const proc = startProcess(entryOf(name), { ...envOf(name, port), ...env });
      const url = `http://127.0.0.1:${port}`;
      const service: Service = {
        name,
        proc,
        port,
        url,
        alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
        async stop() {
          if (!service.alive()) return proc.child.exitCode;
          proc.child.kill("SIGCONT");
          const killer = setTimeout(() => proc.child.kill("SIGKILL"), 10_000);
          const { code } = await proc.stop("SIGTERM");
          clearTimeout(killer);
          return code;
        },
      };
      services.push(service);
      await waitForHttpOk(`${url}/health/ready`, proc, 60_000);
      return service;
    },
    dataCheck: () => diffWithSource({ sim: odoo.sim, odoo: odoo.odoo, store }),
    logs: () =>
      services
        .map((s) => `----- ${s.name} (pid ${s.proc.child.pid})\n${s.proc.output().slice(-20_000)}`)
        .join("\n"),
    async close() {
      await Promise.allSettled(services.map((s) => s.stop()));
      await etl.close().catch(() => {});
      await store.close().catch(() => {});
      await odoo.close().catch(() => {});
      await Promise.allSettled([pg.close(), redis.close()]);
      rmSync(reportsDir, { recursive: true, force: true });
    },
  };
}

/** JSON lines a service logged (pino), parsed; other lines skipped. */
export function logLines(service: Service): { level: number | string; msg?: string; [k: string]: unknown }[] {
  return service.proc
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export interface ApiClient {
  get(path: string, signal?: AbortSignal): Promise<ApiAnswer>;
  post(path: string, body: unknown): Promise<ApiAnswer>;
  delete(path: string): Promise<{ status: number; body: string }>;
  bytes(path: string): Promise<{ status: number; body: Buffer }>;
}

/** A logged-in client of the API: bearer token, JSON in and out, statuses as they come. */
export async function apiClient(api: Service): Promise<ApiClient> {
  const login = await fetch(`${api.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(ADMIN),
  });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const { accessToken } = (await login.json()) as { accessToken: string };
  const headers = { authorization: `Bearer ${accessToken}` };
  return {
    async get(path: string, signal?: AbortSignal) {
      const res = await fetch(`${api.url}${path}`, { headers, ...(signal ? { signal } : {}) });
      return { status: res.status, headers: res.headers, body: await res.text() };
    },
    async post(path: string, body: unknown) {
      const res = await fetch(`${api.url}${path}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, headers: res.headers, body: await res.text() };
    },
    async delete(path: string) {
      const res = await fetch(`${api.url}${path}`, { method: "DELETE", headers });
      return { status: res.status, body: await res.text() };
    },
    async bytes(path: string) {
      const res = await fetch(`${api.url}${path}`, { headers });
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    },
  };
}

/** An ETL run's record (etl.runs) for a job, newest attempt first; undefined until it exists. */
export async function runOf(store: Db, jobId: string) {
  const { rows } = await store.pool.query<{
    id: number;
    status: string;
    attempt: number;
    error: string | null;
  }>(
    "select id, status, attempt, error from etl.runs where job_id = $1 order by attempt desc, id desc limit 1",
    [jobId],
  );
  return rows[0];
}

/** Waits until the job's latest run has finished (succeeded or failed); returns it. */
export async function finishedRun(store: Db, jobId: string, timeoutMs: number) {
  return until(
    `the run of job ${jobId} to finish`,
    async () => {
      const run = await runOf(store, jobId);
      return run && (run.status === "succeeded" || run.status === "failed") ? run : undefined;
    },
    timeoutMs,
    200,
  );
}

/**
 * When the ETL last committed a batch: the newest `updated_at` of its cursors and partitions
 * (each batch moves one of them in its own transaction), as PostgreSQL's clock says.
 */
export async function lastCommit(store: Db): Promise<number> {
  const { rows } = await store.pool.query<{ at: Date | null }>(
    `select greatest((select max(updated_at) from etl.cursors), (select max(updated_at) from etl.partitions)) as at`,
  );
  return rows[0]?.at ? new Date(rows[0].at).getTime() : 0;
}

/** Live rows of a synced table (a count: the suite's tables are small). */
export async function rowsIn(store: Db, table: string): Promise<number> {
  const { rows } = await store.pool.query<{ n: number }>(`select count(*)::int as n from odoo.${table}`);
  return rows[0]?.n ?? 0;
}

/** One line of the results table: printed, and gathered for bench/README.md. */
export interface Outcome {
  scenario: string;
  outcome: string;
  dataCheck: string;
  recoverMs: number | null;
}
export function record(outcome: Outcome): void {
  const recover = outcome.recoverMs === null ? "—" : `${(outcome.recoverMs / 1000).toFixed(1)} s`;
  process.stdout.write(
    `[fault] ${outcome.scenario} | ${outcome.outcome} | ${outcome.dataCheck} | ${recover}\n`,
  );
}
