import { reportsQueue } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import type { Logger } from "@finanzas/logger";
import type { Producer } from "@finanzas/queue";

/*
 * Reports whose job Redis lost (a restart without persistence, a FLUSHALL, an enqueue lost with the
 * server): the record in PostgreSQL is the truth, the queue is only how work reaches a worker.
 *
 * - `queued` for `requeueAfterSeconds` with no job of its id in the queue: enqueued again (the job id
 *   is the report id, so every replica may sweep at once and a report never gets two jobs).
 * - `running` with no job and no progress (its `rows` and `attempts` unchanged) for `stuckAfterMs`:
 *   no worker builds it any more (a build writes its progress every second; a single statement is
 *   cut at REPORT_BUILD_STATEMENT_TIMEOUT_MS); put back to `queued` and enqueued again. A build still
 *   running when Redis lost its job finishes in PostgreSQL by itself and is left alone.
 * - A job that ended (failed or completed) while its record is still `queued` or `running` counts as
 *   no job: nothing will move that record any more. BullMQ fails a job it found stalled more often
 *   than `maxStalledCount` (its worker died, or its lock lapsed twice on a loaded machine) without
 *   running the handler that would record the failure, and a handler that could not reach
 *   PostgreSQL when it failed left its record as it was. Such a record is treated as above, its
 *   ended job removed before it is enqueued again, but a `running` one already started
 *   `maxAttempts` times is marked failed with the job's reason instead: a build that stops its
 *   worker every time is not tried forever.
 */
export interface ReportRecoveryOptions {
  db: Kysely<Database>;
  producer: Pick<Producer<typeof reportsQueue>, "add" | "queue">;
  logger: Logger;
  intervalMs: number;
  requeueAfterSeconds: number;
  stuckAfterMs: number;
  /** Starts after which a report whose job ended unfinished fails (the queue's attempts). */
  maxAttempts?: number;
  now?: () => number;
}

const LIMIT = 1_000;

export function createReportRecovery(o: ReportRecoveryOptions) {
  const now = o.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<number> | undefined;
  // Running reports without a job: when their progress was last seen to move.
  const still = new Map<string, { rows: string; attempts: number; since: number }>();

  const maxAttempts = o.maxAttempts ?? reportsQueue.defaultJobOptions.attempts ?? 1;

  /** The report's job, unless there is none or it ended (then nothing will run it any more). */
  async function liveJob(
    id: string,
  ): Promise<{ live: boolean; ended?: { reason: string; remove(): Promise<void> } }> {
    const job = await o.producer.queue.getJob(id);
    if (!job) return { live: false };
    const state = await job.getState();
    if (state !== "failed" && state !== "completed") return { live: true };
    return {
      live: false,
      ended: {
        reason: state === "failed" ? job.failedReason || "its job failed" : "its job completed",
        remove: () => job.remove(),
      },
    };
  }

  async function sweepOnce(): Promise<number> {
    const before = new Date(now() - o.requeueAfterSeconds * 1000);
    const rows = await o.db
      .selectFrom("reports.reports")
      .select(["id", "status", "rows", "attempts", "created_at"])
      .where("status", "in", ["queued", "running"])
      .where("cancel_requested_at", "is", null)
      .where("created_at", "<=", before)
      .orderBy("created_at")
      .limit(LIMIT)
      .execute();
    let requeued = 0;
    const seen = new Set<string>();
    for (const r of rows) {
      const job = await liveJob(r.id);
      if (job.live) continue;
      if (r.status === "running") {
        seen.add(r.id);
        const progress = { rows: String(r.rows), attempts: r.attempts };
        const last = still.get(r.id);
        if (!last || last.rows !== progress.rows || last.attempts !== progress.attempts) {
          still.set(r.id, { ...progress, since: now() });
          continue;
        }
        if (now() - last.since < o.stuckAfterMs) continue;
        still.delete(r.id);
        if (job.ended && r.attempts >= maxAttempts) {
          const error = `the build stopped without finishing ${r.attempts} times (${job.ended.reason})`;
          const failed = await o.db
            .updateTable("reports.reports")
            .set({ status: "failed", error, finished_at: new Date() })
            .where("id", "=", r.id)
            .where("status", "=", "running")
            .where("attempts", "=", r.attempts)
            .executeTakeFirst();
          if (Number(failed.numUpdatedRows) > 0)
            o.logger.error(
              { reportId: r.id, attempts: r.attempts, error },
              "report failed: its job ended unfinished",
            );
          continue;
        }
        const back = await o.db
          .updateTable("reports.reports")
          .set({ status: "queued" })
          .where("id", "=", r.id)
          .where("status", "=", "running")
          .where("attempts", "=", r.attempts)
          .executeTakeFirst();
        if (Number(back.numUpdatedRows) === 0) continue;
      }
      // an ended job keeps its id: the new one can only be added once it is gone
      if (job.ended) await job.ended.remove();
      await o.producer.add("build-report", { reportId: r.id }, { jobId: r.id });
      requeued++;
      o.logger.warn(
        { reportId: r.id, was: r.status, ...(job.ended ? { job: job.ended.reason } : {}) },
        job.ended
          ? "report's job ended before the report did: enqueued again"
          : "report had no job in the queue (Redis lost it): enqueued again",
      );
    }
    for (const id of still.keys()) if (!seen.has(id)) still.delete(id);
    return requeued;
  }

  const sweep = (): Promise<number> => {
    sweeping ??= sweepOnce().finally(() => {
      sweeping = undefined;
    });
    return sweeping;
  };

  return {
    sweep,
    start(): void {
      timer = setInterval(() => {
        sweep().catch((error: unknown) => o.logger.warn({ err: error }, "report recovery sweep failed"));
      }, o.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await sweeping?.catch(() => 0);
    },
  };
}
