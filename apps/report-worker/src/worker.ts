import { reportsQueue } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import type { Logger } from "@finanzas/logger";
import { type Consumer, createConsumer, type Handlers, type QueueConnection } from "@finanzas/queue";
import type { Storage } from "@finanzas/storage";
import { type BuildDeps, buildReportHandler } from "./jobs/build-report.js";
import { type CleanupDeps, cleanupReportsHandler } from "./jobs/cleanup-reports.js";

export interface WorkerDeps
  extends BuildDeps,
    Pick<CleanupDeps, "refreshTokenRetentionDays" | "mailRetentionDays"> {
  connection: QueueConnection;
  logger: Logger;
  concurrency: number;
  /** A dead worker's report is taken up again within about twice this (REPORT_LOCK_SECONDS). */
  lockDurationMs?: number | undefined;
  db: Kysely<Database>;
  storage: Storage;
}

/** The consumer of the `reports` queue: one handler per job of the contract, each in src/jobs/. */
export function createReportWorker(deps: WorkerDeps): Consumer {
  const handlers: Handlers<typeof reportsQueue> = {
    "build-report": buildReportHandler(deps),
    "cleanup-reports": cleanupReportsHandler(deps),
  };
  return createConsumer(reportsQueue, handlers, {
    ...deps.connection,
    concurrency: deps.concurrency,
    logger: deps.logger,
    lockDurationMs: deps.lockDurationMs,
  });
}
