export * from "./data-changed.js";
export {
  DEFAULT_JOB_OPTIONS,
  defineJob,
  defineQueue,
  type JobDefinition,
  type JobName,
  type JobOptions,
  type PayloadOf,
  type QueueDefinition,
  type ResultOf,
} from "./define.js";
export * from "./etl.js";
export { HealthLive, HealthReady, ProblemDetails } from "./http.js";
export * from "./http-auth.js";
export * from "./http-common.js";
export * from "./http-finance.js";
export * from "./http-routes.js";
export * from "./http-sync.js";
export * from "./mail.js";
export { ETL_JOB_NAMES, type EtlJobName, etlQueue, mailQueue, queues, reportsQueue } from "./queues.js";
export * from "./reports.js";
export * from "./sessions.js";
