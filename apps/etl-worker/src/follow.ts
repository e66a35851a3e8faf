/**
 * How `pnpm etl:run` learns a sync's outcome: from BullMQ when the job finishes, and from the run
 * record in PostgreSQL (`etl.runs`, the truth about a run) when the queue cannot tell: a job Redis
 * lost (restarted without persistence, flushed) whose worker finished the run in PostgreSQL anyway,
 * a Redis that does not answer, or a job lost before any worker took it (then no run exists).
 */
import type { RunStatus } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { isRedisUnavailable } from "@finanzas/queue";

export interface RecordedModel {
  model: string;
  status: RunStatus;
  fetched: number;
  upserted: number;
  deleted: number;
  rejected: number;
  missingFields: string[];
  error: string | null;
}

export interface RecordedRun {
  runId: number;
  status: RunStatus;
  error: string | null;
  ms: number | null;
  models: RecordedModel[];
}

/** The newest attempt's run of a job, with its models; undefined while no worker has started it. */
export async function recordedRun(db: Kysely<Database>, jobId: string): Promise<RecordedRun | undefined> {
  const run = await db
    .selectFrom("etl.runs")
    .select(["id", "status", "error", "created_at", "started_at", "finished_at"])
    .where("job_id", "=", jobId)
    .orderBy("attempt", "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!run) return undefined;
  const models = await db
    .selectFrom("etl.run_models")
    .select(["model", "status", "fetched", "upserted", "deleted", "rejected", "missing_fields", "error"])
    .where("run_id", "=", run.id)
    .orderBy("model")
    .execute();
  const from = run.started_at ?? run.created_at;
  return {
    runId: run.id,
    status: run.status,
    error: run.error,
    ms: run.finished_at ? new Date(run.finished_at).getTime() - new Date(from).getTime() : null,
    models: models.map((m) => ({
      model: m.model,
      status: m.status,
      fetched: m.fetched,
      upserted: m.upserted,
      deleted: m.deleted,
      rejected: m.rejected,
      missingFields: m.missing_fields,
      error: m.error,
    })),
  };
}

export type QueueView = "present" | "missing" | "unreachable";

export type Verdict =
  | { kind: "wait" }
  /** The queue lost the job (or does not answer) and its run ended: the outcome is the record's. */
  | { kind: "recorded"; run: RecordedRun; queue: Exclude<QueueView, "present"> }
  /** The queue lost the job before any worker started it: nothing ran. */
  | { kind: "lost" }
  /** The queue lost the job while a worker runs it: follow the record. */
  | { kind: "following"; runId: number };

/** What the queue and the record together say about a job: the decision, pure. */
export function verdictOf(queue: QueueView, run: RecordedRun | undefined): Verdict {
  if (queue === "present") return { kind: "wait" };
  if (run && (run.status === "succeeded" || run.status === "failed")) return { kind: "recorded", run, queue };
  if (run) return { kind: "following", runId: run.runId };
  return queue === "missing" ? { kind: "lost" } : { kind: "wait" };
}

/** Whether the queue still holds the job: present, missing (Redis lost it), or unreachable. */
export async function queueView(getJob: () => Promise<unknown>): Promise<QueueView> {
  try {
    return (await getJob()) ? "present" : "missing";
  } catch (error) {
    if (isRedisUnavailable(error)) return "unreachable";
    throw error;
  }
}

/**
 * Polls the queue and the record every `everyMs` until they decide (anything but `wait` and
 * `following`); `onFollowing` is told once when the record is followed without the queue.
 */
export async function watchRecord(options: {
  db: Kysely<Database>;
  jobId: string;
  getJob: () => Promise<unknown>;
  everyMs: number;
  signal: AbortSignal;
  onFollowing?: (runId: number) => void;
}): Promise<Exclude<Verdict, { kind: "wait" } | { kind: "following" }> | undefined> {
  let told = false;
  while (!options.signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, options.everyMs));
    if (options.signal.aborted) return undefined;
    const queue = await queueView(options.getJob);
    if (queue === "present") continue;
    const run = await recordedRun(options.db, options.jobId).catch(() => undefined);
    const verdict = verdictOf(queue, run);
    if (verdict.kind === "following") {
      if (!told) options.onFollowing?.(verdict.runId);
      told = true;
      continue;
    }
    if (verdict.kind !== "wait") return verdict;
  }
  return undefined;
}
