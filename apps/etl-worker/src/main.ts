import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { createPool } from "@finanzas/db";
import { createIndexKeeper } from "@finanzas/ledger";
import { AdaptiveConcurrency, type AnswerSample, createOdooClient, SharedLimiter } from "@finanzas/odoo";
import { odooClientOptions, readConfig, settingsFrom } from "./config.js";
import { createEtlMetrics } from "./metrics.js";
import { createThreadReader } from "./odoo/thread-reader.js";
import { createEtlWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createServiceLogger("etl-worker", import.meta.url, config);

await runWorkerService({
  service: "etl-worker",
  config,
  logger,
  start: async (stores, shutdown, metrics) => {
    // Every request to Odoo, from this thread and the reader threads, under one limit, which follows
    // the server: lower when its answers slow down or it refuses, back up when it recovers.
    const limiter = SharedLimiter.create(config.ODOO_MAX_CONCURRENCY);
    const adaptive = new AdaptiveConcurrency(limiter, {
      onChange: ({ from, to, reason }) =>
        logger.info({ from, to, reason }, "Odoo requests in flight: new limit"),
    });
    const clientOptions = {
      ...odooClientOptions(config),
      limiter,
      onAnswer: (sample: AnswerSample) => adaptive.observe(sample),
    };
    const odoo = createOdooClient(clientOptions);
    shutdown.add("odoo client", () => odoo.close());
    // Sync pages are fetched, decoded and mapped on threads of their own, overlapping the writes.
    // Its heap scales with the page size (≈ 20 MB per 1 000 journal items in flight, read-ahead included).
    const reader = createThreadReader(clientOptions, {
      heapMb: Math.max(160, Math.ceil((config.ODOO_PAGE_SIZE / 1000) * 80)),
      threads: config.ETL_READER_THREADS,
    });
    shutdown.add("odoo reader thread", () => reader.close());
    // The read indexes, on a connection of their own free of the statement timeout:
    // `create index concurrently` on a large table takes minutes.
    const indexPool = createPool({
      url: config.DATABASE_URL,
      max: 1,
      applicationName: "etl-worker (indexes)",
    });
    shutdown.add("postgres (indexes)", () => indexPool.end());
    return createEtlWorker({
      connection: stores.connection,
      logger,
      concurrency: config.ETL_CONCURRENCY,
      db: stores.database.db,
      pool: stores.database.pool,
      odoo,
      publisher: stores.redis,
      settings: settingsFrom(config),
      reader,
      metrics: createEtlMetrics(metrics, stores.database.db, logger, adaptive),
      runRetentionDays: config.ETL_RUN_RETENTION_DAYS,
      readIndexes: createIndexKeeper(indexPool, logger),
    });
  },
});
