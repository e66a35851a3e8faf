import { randomUUID } from "node:crypto";
import {
  etlQueue,
  type JobName,
  mailQueue,
  type PayloadOf,
  type QueueDefinition,
  reportsQueue,
  syncDeduplicationId,
} from "@finanzas/contracts";
import type { Config } from "./config.js";

/** One recurring job: on `cron` (in `tz`), enqueue `job` with `payload` on `queue`. */
export interface Schedule<Q extends QueueDefinition = QueueDefinition, J extends JobName<Q> = JobName<Q>> {
  /** Stable id: the same id across restarts and replicas updates one scheduler instead of adding one. */
  id: string;
  queue: Q;
  job: J;
  payload: PayloadOf<Q, J>;
  cron: string;
  tz?: string;
  /**
   * Also enqueue one run when the scheduler starts (with this payload), unless a job under
   * `deduplicationId` is still waiting or running: replicas and restarts add no second one.
   */
  atStart?: { payload: PayloadOf<Q, J>; deduplicationId: string; jobId: () => string };
}

export const schedule = <Q extends QueueDefinition, J extends JobName<Q>>(s: Schedule<Q, J>): Schedule =>
  s as unknown as Schedule;

/**
 * Every schedule of the system, from configuration: the ETL's incremental sync, deletion
 * reconciliation and purge of old runs, the deletion of expired reports (and of the refresh tokens
 * and mail records past their retention, by the same job), and the payment reminders (off unless
 * MAIL_REMINDER_CRON is set), each switched off by setting its cron to `off`. A recurring job of
 * any queue is scheduled here.
 *
 * The incremental sync also runs once when the scheduler starts (ETL_SYNC_AT_START): on a fresh
 * install that is the first copy, minutes before the first cron slot, and after downtime it
 * catches up what changed in Odoo meanwhile. The scheduler owns it because it owns when syncs run;
 * it needs no database to decide, since an incremental sync of a model never synced reads it whole.
 */
export function schedulesFrom(
  config: Pick<
    Config,
    | "ETL_SYNC_CRON"
    | "ETL_SYNC_AT_START"
    | "ETL_RECONCILE_CRON"
    | "ETL_PURGE_CRON"
    | "REPORT_CLEANUP_CRON"
    | "MAIL_REMINDER_CRON"
    | "SCHEDULE_TZ"
  >,
): Schedule[] {
  const all: Schedule[] = [];
  const tz = config.SCHEDULE_TZ;
  if (config.ETL_SYNC_CRON !== "off") {
    all.push(
      schedule({
        id: "etl-sync-incremental",
        queue: etlQueue,
        job: "sync",
        payload: { mode: "incremental", requestedBy: "scheduler" },
        cron: config.ETL_SYNC_CRON,
        tz,
        ...(config.ETL_SYNC_AT_START
          ? {
              atStart: {
                payload: { mode: "incremental", requestedBy: "scheduler (at start)" },
                // the web-api's key for the same sync: one a user asked for and still pending counts
                deduplicationId: syncDeduplicationId("incremental", undefined),
                jobId: () => `sync-${randomUUID()}`,
              },
            }
          : {}),
      }),
    );
  }
  if (config.ETL_RECONCILE_CRON !== "off") {
    all.push(
      schedule({
        id: "etl-reconcile-deletions",
        queue: etlQueue,
        job: "reconcile-deletions",
        payload: { requestedBy: "scheduler" },
        cron: config.ETL_RECONCILE_CRON,
        tz,
      }),
    );
  }
  if (config.ETL_PURGE_CRON !== "off") {
    all.push(
      schedule({
        id: "etl-purge-runs",
        queue: etlQueue,
        job: "purge-runs",
        payload: { requestedBy: "scheduler" },
        cron: config.ETL_PURGE_CRON,
        tz,
      }),
    );
  }
  if (config.REPORT_CLEANUP_CRON !== "off") {
    all.push(
      schedule({
        id: "reports-cleanup",
        queue: reportsQueue,
        job: "cleanup-reports",
        payload: { requestedBy: "scheduler" },
        cron: config.REPORT_CLEANUP_CRON,
        tz,
      }),
    );
  }
  if (config.MAIL_REMINDER_CRON !== "off") {
    all.push(
      schedule({
        id: "mail-reminders",
        queue: mailQueue,
        job: "run-reminders",
        payload: { requestedBy: "scheduler" },
        cron: config.MAIL_REMINDER_CRON,
        tz,
      }),
    );
  }
  return all;
}
