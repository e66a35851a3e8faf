import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { reportsQueue } from "@finanzas/contracts";
import { createProducer } from "@finanzas/queue";
import { createStorage } from "@finanzas/storage";
import { readConfig } from "./config.js";
import { sweepTempFiles } from "./jobs/build-report.js";
import { createReportRecovery } from "./recovery.js";
import { createReportWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createServiceLogger("report-worker", import.meta.url, config);

await runWorkerService({
  service: "report-worker",
  config,
  logger,
  start: async (stores, shutdown) => {
    const storage = createStorage(config);
    await storage.check();
    const swept = await sweepTempFiles();
    if (swept) logger.info({ swept }, "removed temporary files of builds that died");
    // Reports whose job Redis lost are enqueued again (recovery.ts).
    const requeues = createProducer(reportsQueue, stores.connection);
    shutdown.add("report recovery queue", () => requeues.close());
    const recovery = createReportRecovery({
      db: stores.database.db,
      producer: requeues,
      logger,
      intervalMs: Math.min(30_000, (config.REPORT_REQUEUE_AFTER_SECONDS * 1000) / 2),
      requeueAfterSeconds: config.REPORT_REQUEUE_AFTER_SECONDS,
      stuckAfterMs: config.REPORT_BUILD_STATEMENT_TIMEOUT_MS + config.REPORT_REQUEUE_AFTER_SECONDS * 1000,
    });
    recovery.start();
    shutdown.add("report recovery", () => recovery.stop());
    return createReportWorker({
      connection: stores.connection,
      logger,
      concurrency: config.REPORT_CONCURRENCY,
      db: stores.database.db,
      databaseUrl: config.DATABASE_URL,
      storage,
      ttlHours: config.REPORT_TTL_HOURS,
      refreshTokenRetentionDays: config.REFRESH_TOKEN_RETENTION_DAYS,
      mailRetentionDays: config.MAIL_RETENTION_DAYS,
      statementTimeoutMs: config.REPORT_BUILD_STATEMENT_TIMEOUT_MS,
      batchSize: config.REPORT_BATCH_ROWS,
      lockDurationMs: config.REPORT_LOCK_SECONDS * 1000,
    });
  },
});
