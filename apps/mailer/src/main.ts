import { packageVersion, runWorkerService } from "@finanzas/bootstrap";
import { createLogger } from "@finanzas/logger";
import { readConfig } from "./config.js";
import { createMailWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createLogger({
  service: "mailer",
  version: packageVersion(import.meta.url),
  level: config.LOG_LEVEL,
});

await runWorkerService({
  service: "mailer",
  config,
  logger,
  start: async (stores) =>
    createMailWorker({ connection: stores.connection, logger, concurrency: config.MAIL_CONCURRENCY }),
});
