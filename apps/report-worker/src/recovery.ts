import type { reportsQueue } from "@finanzas/contracts";
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
 */
export interface ReportRecoveryOptions {
  db: Kysely<Database>;
  producer: Pick<Producer<typeof reportsQueue>, "add" | "queue">;
  logger: Logger;
  intervalMs: number;
  requeueAfterSeconds: number;
  stuckAfterMs: number;
  now?: () => number;
}

const LIMIT = 1_000;

export function createReportRecovery(o: ReportRecoveryOptions) {
  const now = o.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<number> | undefined;
  // Running reports without a job: when their progress was last seen to move.
  const still = new Map<string, { rows: string; attempts: number; since: number }>();

  const hasJob = async (id: string) => (await o.producer.queue.getJob(id)) !== undefined;

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
      if (await hasJob(r.id)) continue;
      if (r.status === "running") {
        seen.add(r.id);
        const progress = { rows: String(r.rows), attempts: r.attempts };
        const last = still.get(r.id);
        if (!last || last.rows !== progress.rows || last.attempts !== progress.attempts) {
          still.set(r.id, { ...progress, since: now() });
          continue;
        }
        if (now() - last.since < o.stuckAfterMs) continue;
        const back = await o.db
          .updateTable("reports.reports")
          .set({ status: "queued" })
          .where("id", "=", r.id)
          .where("status", "=", "running")
          .where("attempts", "=", r.attempts)
          .executeTakeFirst();
        still.delete(r.id);
        if (Number(back.numUpdatedRows) === 0) continue;
      }
      await o.producer.add("build-report", { reportId: r.id }, { jobId: r.id });
      requeued++;
      o.logger.warn(
        { reportId: r.id, was: r.status },
        "report had no job in the queue (Redis lost it): enqueued again",
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
