import { packageVersion, runWorkerService } from "@finanzas/bootstrap";
import { createLogger } from "@finanzas/logger";
import { readConfig } from "./config.js";
import { createEtlWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createLogger({
  service: "etl-worker",
  version: packageVersion(import.meta.url),
  level: config.LOG_LEVEL,
});

await runWorkerService({
  service: "etl-worker",
  config,
  logger,
  start: async (stores) =>
    createEtlWorker({ connection: stores.connection, logger, concurrency: config.ETL_CONCURRENCY }),
});
