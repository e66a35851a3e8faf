import { etlQueue } from "@finanzas/contracts";
import type { Logger } from "@finanzas/logger";
import { type Consumer, createConsumer, type Handlers, type QueueConnection } from "@finanzas/queue";

export interface WorkerDeps {
  connection: QueueConnection;
  logger: Logger;
  concurrency: number;
}

/**
 * The consumer of the `${etlQueue.name}` queue. One handler per job of the contract, each in its own
 * file under src/jobs/; the contract has no jobs until the issue that builds them.
 */
export function createEtlWorker(deps: WorkerDeps): Consumer {
  const handlers: Handlers<typeof etlQueue> = {};
  return createConsumer(etlQueue, handlers, {
    ...deps.connection,
    concurrency: deps.concurrency,
    logger: deps.logger,
  });
}
