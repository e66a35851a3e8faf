import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createDb, type Db } from "@finanzas/db";
import { columnsOf, ensureModelTables, REGISTRY, tableOf } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import type { OdooClient } from "@finanzas/odoo";
import type { OdooSim, OdooSimOptions } from "@finanzas/odoo-sim";
import { createTestDatabase, startTestOdoo, type TestDatabase, testLogger } from "@finanzas/testing";
import {
  createEngine,
  DEFAULT_SETTINGS,
  type Engine,
  type EngineDeps,
  type EtlSettings,
  type JobRun,
} from "../src/engine/index.js";

export { diffWithSource } from "../src/testing.js";

export const quietLogger: Logger = testLogger("etl-worker");

export interface Harness {
  sim: OdooSim;
  database: TestDatabase;
  store: Db;
  odoo: OdooClient;
  engine: Engine;
  /** Another engine on the same database and Odoo (another replica), with its own deps; publishes nothing. */
  engineWith(overrides: Partial<EngineDeps>): Engine;
  settings: EtlSettings;
  published: string[];
  close(): Promise<void>;
}

/** A simulator over HTTP, a fresh migrated database with the odoo tables, and an engine between them. */
export async function harness(
  label: string,
  sim: OdooSimOptions = {},
  settings: Partial<EtlSettings> = {},
): Promise<Harness> {
  // The client retries as the service's does (ETL_ODOO_RETRIES attempts), with short waits.
  const [testOdoo, database] = await Promise.all([
    startTestOdoo(sim, { retry: { attempts: 6, baseDelayMs: 20, maxDelayMs: 200 } }),
    createTestDatabase(label),
  ]);
  const { sim: odooSim, odoo } = testOdoo;
  const store = createDb({ url: database.url, max: 8 });
  await ensureModelTables(store.db);
  const all: EtlSettings = {
    ...DEFAULT_SETTINGS,
    pageSize: 200,
    lockTtlSeconds: 10,
    ...settings,
  };
  const published: string[] = [];
  const base: EngineDeps = {
    db: store.db,
    pool: store.pool,
    odoo,
    queuePrefix: "test",
    logger: quietLogger,
    settings: all,
  };
  const engine = createEngine({
    ...base,
    publisher: { publish: async (_channel: string, message: string) => published.push(message) },
  });
  return {
    sim: odooSim,
    database,
    store,
    odoo,
    engine,
    engineWith: (overrides) => createEngine({ ...base, ...overrides }),
    settings: all,
    published,
    async close() {
      await testOdoo.close();
      await store.close();
      await database.drop();
    },
  };
}

export const job = (overrides: Partial<JobRun> = {}): JobRun => ({
  jobId: randomUUID(),
  attempt: 1,
  signal: new AbortController().signal,
  logger: quietLogger,
  progress: async () => {},
  ...overrides,
});

export const everyColumn = (model: string) => columnsOf(REGISTRY.find((m) => m.model === model)!);

/** Local rows per model (live, and marked deleted). */
export async function localCounts(
  h: Pick<Harness, "store">,
): Promise<Record<string, { live: number; deleted: number }>> {
  const out: Record<string, { live: number; deleted: number }> = {};
  for (const spec of REGISTRY) {
    const { rows } = await h.store.pool.query(
      `select count(*) filter (where _deleted_at is null)::int as live, count(*) filter (where _deleted_at is not null)::int as deleted from odoo.${tableOf(spec.model)}`,
    );
    out[spec.model] = rows[0];
  }
  return out;
}

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

/** Runs the built CLI; resolves with its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  /** Past this, the CLI is killed and its output returned with the reason (a diagnosis, not a hang). */
  timeoutMs?: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c) => {
      output += c;
    });
    child.stderr.on("data", (c) => {
      output += c;
    });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            output += `\n(the CLI had not exited after ${timeoutMs} ms: killed)`;
            child.kill("SIGKILL");
          }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
