export { observeJobs } from "./metrics.js";
export { createServiceLogger, openStores, packageVersion, type StoreConfig, type Stores } from "./stores.js";
export { runWorkerService, type WorkerService, type WorkerServiceConfig } from "./worker.js";
