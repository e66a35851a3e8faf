import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { readConfig } from "./config.js";
import { createScheduler } from "./scheduler.js";
import { schedulesFrom } from "./schedules.js";

const config = readConfig(process.env);
const logger = createServiceLogger("scheduler", import.meta.url, config);

await runWorkerService({
  service: "scheduler",
  config,
  logger,
  start: (stores) =>
    createScheduler({
      connection: stores.connection,
      logger,
      schedules: schedulesFrom(config),
      checkEveryMs: config.SCHEDULE_CHECK_SECONDS * 1000,
    }),
});
