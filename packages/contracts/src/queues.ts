import { defineJob, defineQueue, type JobName } from "./define.js";
import {
  PurgeRunsPayload,
  PurgeRunsResult,
  ReconcileDeletionsPayload,
  RunResult,
  SyncPayload,
  SyncRecordsPayload,
} from "./etl.js";
import {
  PlanMailingPayload,
  PlanMailingResult,
  RunRemindersPayload,
  RunRemindersResult,
  SendBatchPayload,
  SendBatchResult,
  SendMessagePayload,
  SendMessageResult,
} from "./mail.js";
import {
  BuildReportPayload,
  BuildReportResult,
  CleanupReportsPayload,
  CleanupReportsResult,
} from "./reports.js";

/*
 * The three queues of the system and their jobs. Only jobs that a consumer handles are declared,
 * with no placeholders.
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
    "purge-runs": defineJob({
      description:
        "Delete finished runs (etl.runs, etl.run_models) older than ETL_RUN_RETENTION_DAYS, in batches; keeps the latest of each job, the latest that changed data, and those a cursor or a left-out record names",
      payload: PurgeRunsPayload,
      result: PurgeRunsResult,
      options: { attempts: 2, priority: 30 },
    }),
  },
  // A sync retried by BullMQ resumes from its committed cursor, so retries are cheap and safe.
  defaultJobOptions: { attempts: 3, backoff: { type: "exponential", delay: 30_000 } },
});

/**
 * The `etl` queue's run job names: persisted in `etl.runs.job`, announced in DataChanged, the `job`
 * label of the ETL's metrics.
 */
export type EtlJobName = Exclude<JobName<typeof etlQueue>, "purge-runs">;
/** Every `etl` job but the housekeeping `purge-runs`, which records no run. */
export const ETL_JOB_NAMES = (Object.keys(etlQueue.jobs) as JobName<typeof etlQueue>[]).filter(
  (name): name is EtlJobName => name !== "purge-runs",
) as readonly EtlJobName[];

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
      description:
        "Delete the files and records of reports past their expiry (REPORT_TTL_HOURS), and the other records the reader role writes past their retention: refresh tokens (REFRESH_TOKEN_RETENTION_DAYS), finished mailings with their outbox (MAIL_RETENTION_DAYS; never suppressions)",
      payload: CleanupReportsPayload,
      result: CleanupReportsResult,
      options: { attempts: 2 },
    }),
  },
  // A retried build starts its file again from the top (a half file is never marked done).
  defaultJobOptions: { attempts: 3, backoff: { type: "exponential", delay: 10_000 } },
});

/**
 * Consumed by mailer: renders and sends email. Produced by web-api and scheduler (and by the mailer
 * itself: a planned mailing enqueues its outbox rows to send in send-batch jobs). Messages are
 * rate limited across every mailer replica (MAIL_RATE_PER_SECOND, a token bucket in Redis that
 * each message takes from). Retries of a message are the outbox's decision: a send job retries only
 * after a temporary SMTP failure left a row of it `retry`.
 */
export const mailQueue = defineQueue({
  name: "mail",
  jobs: {
    "plan-mailing": defineJob({
      description:
        "Choose a mailing's recipients from the synced copy, write one outbox row per recipient (skipped ones with the reason), then enqueue its rows to send in send-batch jobs; the job id is the mailing id",
      payload: PlanMailingPayload,
      result: PlanMailingResult,
      options: { attempts: 3, backoff: { type: "exponential", delay: 10_000 } },
    }),
    "send-message": defineJob({
      description:
        "Claim one outbox row (queued or retry) and send it, as send-batch does for one row (a person's resend). The job id is the message id",
      payload: SendMessagePayload,
      result: SendMessageResult,
    }),
    "send-batch": defineJob({
      description:
        "Send up to MAX_SEND_BATCH outbox rows, several at once over the pooled SMTP connections, each claimed (queued or retry → sending) right before it goes and its outcome recorded on it; rows no longer claimable are left as they are. When its messages attach statements, the reports build-report jobs of those still to build are its children and finish first",
      payload: SendBatchPayload,
      result: SendBatchResult,
    }),
    "run-reminders": defineJob({
      description:
        "Start a payment-reminder mailing over every customer with overdue items (the scheduler's)",
      payload: RunRemindersPayload,
      result: RunRemindersResult,
      options: { attempts: 2 },
    }),
  },
  defaultJobOptions: { attempts: 8, backoff: { type: "exponential", delay: 5_000 } },
});

export const queues = { etl: etlQueue, reports: reportsQueue, mail: mailQueue } as const;
