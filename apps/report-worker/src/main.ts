import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { createStorage } from "@finanzas/storage";
import { readConfig } from "./config.js";
import { sweepTempFiles } from "./jobs/build-report.js";
import { createReportWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createServiceLogger("report-worker", import.meta.url, config);

await runWorkerService({
  service: "report-worker",
  config,
  logger,
  start: async (stores) => {
    const storage = createStorage(config);
    await storage.check();
    const swept = await sweepTempFiles();
    if (swept) logger.info({ swept }, "removed temporary files of builds that died");
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
