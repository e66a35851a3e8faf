import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { readConfig } from "./config.js";
import { createEtlWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createServiceLogger("etl-worker", import.meta.url, config);

await runWorkerService({
  service: "etl-worker",
  config,
  logger,
  start: async (stores) =>
    createEtlWorker({ connection: stores.connection, logger, concurrency: config.ETL_CONCURRENCY }),
});
