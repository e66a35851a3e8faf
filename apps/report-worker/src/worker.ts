import { reportsQueue } from "@finanzas/contracts";
import type { Logger } from "@finanzas/logger";
import { type Consumer, createConsumer, type Handlers, type QueueConnection } from "@finanzas/queue";

export interface WorkerDeps {
  connection: QueueConnection;
  logger: Logger;
  concurrency: number;
}

/**
 * The consumer of the `${reportsQueue.name}` queue. One handler per job of the contract, each in its own
 * file under src/jobs/. The contract declares no jobs on this queue, so the handler map is empty.
 */
export function createReportWorker(deps: WorkerDeps): Consumer {
  const handlers: Handlers<typeof reportsQueue> = {};
  return createConsumer(reportsQueue, handlers, {
    ...deps.connection,
    concurrency: deps.concurrency,
    logger: deps.logger,
  });
}
