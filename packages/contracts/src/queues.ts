import { defineJob, defineQueue, type JobName } from "./define.js";
import { ReconcileDeletionsPayload, RunResult, SyncPayload, SyncRecordsPayload } from "./etl.js";
import {
  BuildReportPayload,
  BuildReportResult,
  CleanupReportsPayload,
  CleanupReportsResult,
} from "./reports.js";

/*
 * The three queues of the system and their jobs. Only jobs that a consumer handles are declared,
 * with no placeholders: `etl` has the sync jobs; `reports` and `mail` declare none, so their
 * workers start with no handlers.
 */

/** Consumed by etl-worker: pull Odoo, upsert PostgreSQL. Produced by web-api and scheduler. */
export const etlQueue = defineQueue({
  name: "etl",
  jobs: {
    sync: defineJob({
      description:
        "Copy Odoo records into odoo.*: every registered model or a subset, incremental (default) or full (then deletions are reconciled)",
      payload: SyncPayload,
      result: RunResult,
      options: { priority: 10 },
    }),
    "sync-records": defineJob({
      description:
        "Re-read some records of one model now and upsert them (ids gone from Odoo are marked deleted)",
      payload: SyncRecordsPayload,
      result: RunResult,
      // No priority: BullMQ runs unprioritised jobs before prioritised ones, so a user's
      // "re-read this invoice" overtakes queued bulk syncs.
      options: { backoff: { type: "exponential", delay: 2_000 } },
    }),
    "reconcile-deletions": defineJob({
      description:
        "Find records hard-deleted in Odoo by comparing id counts per range, and mark them _deleted_at",
      payload: ReconcileDeletionsPayload,
      result: RunResult,
      options: { priority: 20 },
    }),
  },
  // A sync retried by BullMQ resumes from its committed cursor, so retries are cheap and safe.
  defaultJobOptions: { attempts: 3, backoff: { type: "exponential", delay: 30_000 } },
});

/**
 * The `etl` queue's job names: persisted in `etl.runs.job`, announced in DataChanged, the `job`
 * label of the ETL's metrics.
 */
export type EtlJobName = JobName<typeof etlQueue>;
export const ETL_JOB_NAMES = Object.keys(etlQueue.jobs) as readonly EtlJobName[];

/** Consumed by report-worker: builds .xlsx files from PostgreSQL. Produced by web-api and scheduler. */
export const reportsQueue = defineQueue({
  name: "reports",
  jobs: {
    "build-report": defineJob({
      description:
        "Build the workbook of a report record (reports.reports) from the synced copy, store it and mark the record done; the job id is the report id",
      payload: BuildReportPayload,
      result: BuildReportResult,
    }),
    "cleanup-reports": defineJob({
      description: "Delete the files and records of reports past their expiry (REPORT_TTL_HOURS)",
      payload: CleanupReportsPayload,
      result: CleanupReportsResult,
      options: { attempts: 2 },
    }),
  },
  // A retried build starts its file again from the top (a half file is never marked done).
  defaultJobOptions: { attempts: 3, backoff: { type: "exponential", delay: 10_000 } },
});

/** Consumed by mailer: renders and sends email. Produced by web-api and scheduler. */
export const mailQueue = defineQueue({ name: "mail", jobs: {} });

export const queues = { etl: etlQueue, reports: reportsQueue, mail: mailQueue } as const;
