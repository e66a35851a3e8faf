import type { Logger } from "@finanzas/logger";
import type { Consumer } from "@finanzas/queue";
import { runService, type Shutdown, startHealthServer } from "@finanzas/runtime";
import { collectDefaultMetrics, Registry as MetricsRegistry, type Registry } from "prom-client";
import { observeJobs } from "./metrics.js";
import { openStores, type StoreConfig, type Stores } from "./stores.js";

export interface WorkerServiceConfig extends StoreConfig {
  HEALTH_PORT: number;
  SHUTDOWN_TIMEOUT_MS: number;
}

export interface WorkerService {
  service: string;
  config: WorkerServiceConfig;
  logger: Logger;
  /**
   * Builds what the service runs, from opened stores: a queue consumer (the workers) or anything
   * else that can be closed within a deadline (the scheduler).
   */
  start(
    stores: Stores,
    shutdown: Shutdown,
    metrics: Registry,
  ): Promise<Pick<Consumer, "close"> & Partial<Pick<Consumer, "observe" | "active" | "worker">>>;
}

/**
 * The life of a worker process: open and check the stores, start the health server, start the
 * work, and on SIGTERM/SIGINT: readiness 503 → stop taking work and let running jobs finish within
 * SHUTDOWN_TIMEOUT_MS (the rest go back to the queue) → health server → Redis → PostgreSQL → exit 0.
 */
export function runWorkerService(worker: WorkerService): Promise<void> {
  const { config, logger } = worker;
  return runService(logger, async (shutdown) => {
    const stores = await openStores(worker.service, config, shutdown, logger);
    // Prometheus on the health port: the process (CPU, memory, event loop, GC), the queue's jobs,
    // and whatever the service adds to the registry it is given.
    const metrics = new MetricsRegistry();
    metrics.setDefaultLabels({ service: worker.service });
    collectDefaultMetrics({ register: metrics });
    const health = await startHealthServer({
      port: config.HEALTH_PORT,
      checks: stores.checks,
      logger,
      startsNotReady: true,
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
    });
    shutdown.add("health server", () => health.close());
    const running = await worker.start(stores, shutdown, metrics);
    if (running.observe && running.worker) observeJobs(metrics, running as Consumer);
    shutdown.add("work", () => running.close(config.SHUTDOWN_TIMEOUT_MS), config.SHUTDOWN_TIMEOUT_MS + 5_000);
    shutdown.add("readiness", () => health.drain());
    health.markStarted();
    logger.info("ready");
  });
}
