export { DependencyError, errorReason, unreachable, withTimeout } from "./errors.js";
export {
  checkReadiness,
  type HealthServer,
  type HealthServerOptions,
  type ReadinessCheck,
  type ReadinessReport,
  startHealthServer,
} from "./health.js";
export { runService } from "./main.js";
export { Shutdown, type ShutdownHook } from "./shutdown.js";
