import { packageVersion, runWorkerService } from "@finanzas/bootstrap";
import { createLogger } from "@finanzas/logger";
import { readConfig } from "./config.js";
import { createScheduler } from "./scheduler.js";
import { schedulesFrom } from "./schedules.js";

const config = readConfig(process.env);
const logger = createLogger({
  service: "scheduler",
  version: packageVersion(import.meta.url),
  level: config.LOG_LEVEL,
});

await runWorkerService({
  service: "scheduler",
  config,
  logger,
  start: (stores) =>
    createScheduler({ connection: stores.connection, logger, schedules: schedulesFrom(config) }),
});
