/**
 * The etl-worker's own way of syncing, for other packages' tests that need data synced from the
 * Odoo simulator (the web-api's, the report-worker's, the mailer's): exported as `etl-worker/testing`,
 * so a test declares `etl-worker` as a dev dependency (turbo then sees that an ETL change touches
 * it) instead of reaching into this app's files. Not used by the service itself.
 */
import { randomUUID } from "node:crypto";
import type { RunResult } from "@finanzas/contracts";
import type { Db } from "@finanzas/db";
import { ensureModelTables } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import type { OdooClient } from "@finanzas/odoo";
import type { Consumer, QueueConnection } from "@finanzas/queue";
import type { Redis } from "ioredis";
import { createEngine, DEFAULT_SETTINGS, type EtlSettings } from "./engine/index.js";
import { sync } from "./jobs/sync.js";
import { createEtlWorker } from "./worker.js";

/** Settings for tests: small pages, short leases (retries are the Odoo client's). */
export const TEST_SETTINGS: EtlSettings = {
  ...DEFAULT_SETTINGS,
  pageSize: 500,
  lockTtlSeconds: 10,
};

/**
 * One sync of every model (or `models`) from `odoo` into `store`, in this process, without a
 * queue: creates the odoo tables first. Throws when the run fails.
 */
export async function syncOnce(options: {
  store: Db;
  odoo: OdooClient;
  logger: Logger;
  mode?: "full" | "incremental";
  models?: readonly string[];
  settings?: Partial<EtlSettings>;
}): Promise<RunResult> {
  await ensureModelTables(options.store.db);
  const engine = createEngine({
    db: options.store.db,
    pool: options.store.pool,
    odoo: options.odoo,
    queuePrefix: "test",
    logger: options.logger,
    settings: { ...TEST_SETTINGS, ...options.settings },
  });
  const result = await sync(
    engine,
    {
      jobId: randomUUID(),
      attempt: 1,
      signal: new AbortController().signal,
      logger: options.logger,
      progress: async () => {},
    },
    options.models,
    options.mode ?? "full",
  );
  if (result.status !== "succeeded") {
    throw new Error(`sync failed: ${JSON.stringify(result.models.filter((m) => m.status === "failed"))}`);
  }
  return result;
}

/** An etl-worker consumer on a test's queue prefix (the odoo tables created first), as the service runs it. */
export async function startTestEtlWorker(options: {
  connection: QueueConnection;
  store: Db;
  odoo: OdooClient;
  publisher: Redis;
  logger: Logger;
  settings?: Partial<EtlSettings>;
}): Promise<Consumer> {
  await ensureModelTables(options.store.db);
  return createEtlWorker({
    connection: options.connection,
    logger: options.logger,
    concurrency: 1,
    db: options.store.db,
    odoo: options.odoo,
    publisher: options.publisher,
    settings: { ...TEST_SETTINGS, ...options.settings },
  });
}
