import { etlQueue } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { assertRegistry, ensureModelTables } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import type { OdooClient } from "@finanzas/odoo";
import { type Consumer, createConsumer, type Handlers, type QueueConnection } from "@finanzas/queue";
import type { Redis } from "ioredis";
import type { Pool } from "pg";
import { createEngine, type EtlSettings } from "./engine/index.js";
import { purgeRunsHandler } from "./jobs/purge-runs.js";
import { reconcileDeletionsHandler } from "./jobs/reconcile-deletions.js";
import { syncHandler } from "./jobs/sync.js";
import { syncRecordsHandler } from "./jobs/sync-records.js";
import type { EtlMetrics } from "./metrics.js";
import type { PageReader } from "./odoo/pages.js";

export interface WorkerDeps {
  connection: QueueConnection;
  logger: Logger;
  concurrency: number;
  db: Kysely<Database>;
  /** The pool behind `db`, for COPY on first full passes (engine/passes/full.ts); else upserts only. */
  pool?: Pool | undefined;
  odoo: OdooClient;
  /** Where the "data changed" signal is published. */
  publisher?: Pick<Redis, "publish"> | undefined;
  settings: EtlSettings;
  /** Where sync pages are read (a reader thread in the service); default: this thread. */
  reader?: PageReader | undefined;
  /** Per-model counts and timings for Prometheus (see metrics.ts). */
  metrics?: EtlMetrics | undefined;
  /** Finished runs older than this many days are purged by `purge-runs` (ETL_RUN_RETENTION_DAYS). */
  runRetentionDays?: number | undefined;
  /**
   * The API's read indexes on the synced copy (@finanzas/ledger's createIndexKeeper), built in the
   * background once the tables follow the registry: only a table's owner may index it, and with the
   * database roles applied that is this worker's role. Omitted: left to web-api.
   */
  readIndexes?: { ensure(): Promise<void> } | undefined;
}

/**
 * The consumer of the `etl` queue: brings the `odoo` tables in line with the registry (idempotent,
 * safe with several replicas), then takes jobs. Odoo is not contacted until a job runs, so the
 * service is ready when PostgreSQL and Redis are.
 */
export async function createEtlWorker(deps: WorkerDeps): Promise<Consumer> {
  assertRegistry();
  const tables = await ensureModelTables(deps.db);
  if (tables.created.length || tables.added.length)
    deps.logger.info(tables, "odoo tables follow the registry");
  void deps.readIndexes?.ensure();
  const engine = createEngine({
    db: deps.db,
    pool: deps.pool,
    odoo: deps.odoo,
    publisher: deps.publisher,
    queuePrefix: deps.connection.prefix,
    logger: deps.logger,
    settings: deps.settings,
    reader: deps.reader,
    metrics: deps.metrics,
  });
  const handlers: Handlers<typeof etlQueue> = {
    sync: syncHandler(engine),
    "sync-records": syncRecordsHandler(engine),
    "reconcile-deletions": reconcileDeletionsHandler(engine),
    "purge-runs": purgeRunsHandler({ db: deps.db, retentionDays: deps.runRetentionDays ?? 90 }),
  };
  return createConsumer(etlQueue, handlers, {
    ...deps.connection,
    concurrency: deps.concurrency,
    logger: deps.logger,
  });
}
