import { packageVersion, runWorkerService } from "@finanzas/bootstrap";
import { createLogger } from "@finanzas/logger";
import { readConfig } from "./config.js";
import { createReportWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createLogger({
  service: "report-worker",
  version: packageVersion(import.meta.url),
  level: config.LOG_LEVEL,
});

await runWorkerService({
  service: "report-worker",
  config,
  logger,
  start: async (stores) =>
    createReportWorker({ connection: stores.connection, logger, concurrency: config.REPORT_CONCURRENCY }),
});
