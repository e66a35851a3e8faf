import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { readConfig } from "./config.js";
import { createMailWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createServiceLogger("mailer", import.meta.url, config);

await runWorkerService({
  service: "mailer",
  config,
  logger,
  start: async (stores) =>
    createMailWorker({ connection: stores.connection, logger, concurrency: config.MAIL_CONCURRENCY }),
});
