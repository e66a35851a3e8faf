import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { readConfig } from "./config.js";
import { createReportWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createServiceLogger("report-worker", import.meta.url, config);

await runWorkerService({
  service: "report-worker",
  config,
  logger,
  start: async (stores) =>
    createReportWorker({ connection: stores.connection, logger, concurrency: config.REPORT_CONCURRENCY }),
});
