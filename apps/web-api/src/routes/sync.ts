import { randomUUID } from "node:crypto";
import {
  DEFAULT_PAGE_SIZE,
  type etlQueue,
  odooTableName,
  type RunStatus,
  type SyncMode,
  syncDeduplicationId,
} from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { decodeCursor, encodeCursor } from "@finanzas/ledger";
import { addUnlessPending, isRedisUnavailable, type Producer } from "@finanzas/queue";
import type { Redis } from "ioredis";
import type { AppInstance } from "../app-types.js";
import { findRuns, knownModels, listRuns, runModels, runSummary, syncState } from "../finance/sync-repo.js";
import { HttpProblem } from "../problem.js";
import { type MountDeps, mount } from "./mount.js";

export interface SyncRouteDeps extends MountDeps {
  db: Kysely<Database>;
  etl: Producer<typeof etlQueue>;
  redis: Redis;
}

type JobState = Awaited<
  ReturnType<NonNullable<Awaited<ReturnType<Producer<typeof etlQueue>["queue"]["getJob"]>>>["getState"]>
>;

const statusOfJob = (state: JobState | "unknown"): RunStatus =>
  state === "active"
    ? "running"
    : state === "completed"
      ? "succeeded"
      : state === "failed"
        ? "failed"
        : "queued";

/**
 * Sync control: enqueue through the contracts' `etl` queue definition (validated by the producer)
 * and read the ETL's run history. The web-api never talks to Odoo.
 */
export async function syncRoutes(app: AppInstance, deps: SyncRouteDeps): Promise<void> {
  const { db, etl } = deps;

  /** Unknown models are a 400 naming each one (the worker would fail the job anyway). */
  const checkModels = async (models: string[], field: string) => {
    const tables = await knownModels(db);
    if (tables.size === 0) return; // the worker has not created its tables yet: it validates
    const unknown = models
      .map((model, i) => ({ model, i }))
      .filter(({ model }) => !tables.has(odooTableName(model).slice("odoo.".length)));
    if (unknown.length) {
      throw new HttpProblem(
        400,
        `unknown model(s): ${unknown.map((u) => u.model).join(", ")}`,
        unknown.map(({ i }) => ({
          field: models.length === 1 && field === "body.model" ? field : `${field}.${i}`,
          message: "is not a synced model",
        })),
      );
    }
  };

  /**
   * An identical sync (same mode, same set of models; none = every model) that is queued or running,
   * whoever asked for it (the scheduler included), or a run of one waiting to be retried: its job
   * id and status, or undefined. The scheduler's next occurrence (a delayed job that has never run,
   * due at the next cron slot, up to a period away) is not pending work: a sync asked for now runs
   * now, instead of being told to wait for the schedule.
   */
  const pendingSync = async (mode: SyncMode, models: string[] | undefined) => {
    const key = syncDeduplicationId(mode, models);
    const jobs = await etl.queue.getJobs(["active", "waiting", "prioritized", "delayed", "paused"], 0, 499);
    for (const job of jobs) {
      if (!job?.id || job.name !== "sync") continue;
      if (job.attemptsMade === 0 && job.delay > 0 && job.timestamp + job.delay > Date.now()) continue;
      const data = (job.data ?? {}) as { mode?: SyncMode; models?: string[] };
      if (syncDeduplicationId(data.mode ?? "incremental", data.models) !== key) continue;
      return { id: job.id, status: statusOfJob(await job.getState()) };
    }
    return undefined;
  };

  // A sync asked for while an identical one is queued or running returns that run (existing: true)
  // instead of queueing a second copy of the same work. Two requests at once are told apart by
  // BullMQ's deduplication on the same key (atomic in Redis); the scan finds runs it does not
  // cover (the scheduler's).
  mount(app, deps, "createSyncRun", async ({ body, user }) => {
    if (body.models) await checkModels(body.models, "body.models");
    const mode = body.mode ?? "incremental";
    const models = body.models ?? [];
    const pending = await pendingSync(mode, body.models);
    if (pending) return { runId: pending.id, status: pending.status, mode, models, existing: true };
    const payload = {
      ...(body.models ? { models: body.models } : {}),
      mode,
      requestedBy: user?.email ?? "api",
    };
    const added = await addUnlessPending(etl, "sync", payload, {
      jobId: () => `sync-${randomUUID()}`,
      deduplicationId: syncDeduplicationId(mode, body.models),
    });
    return added.existing
      ? { runId: added.id, status: statusOfJob(added.state), mode, models, existing: true }
      : { runId: added.id, status: "queued" as const, mode, models, existing: false };
  });

  mount(app, deps, "syncRecords", async ({ body, user }) => {
    await checkModels([body.model], "body.model");
    const jobId = `sync-records-${randomUUID()}`;
    await etl.add(
      "sync-records",
      { model: body.model, ids: body.ids, requestedBy: user?.email ?? "api" },
      { jobId },
    );
    return { jobId, model: body.model, ids: body.ids.length };
  });

  mount(app, deps, "getSyncRun", async ({ params }) => {
    const numeric = /^\d+$/.test(params.id) ? Number(params.id) : undefined;
    const runs = numeric !== undefined && numeric <= 2_147_483_647 ? await findRuns(db, { id: numeric }) : [];
    const jobId = runs[0]?.job_id ?? (numeric === undefined ? params.id : undefined);
    const byJob = jobId && runs.length === 0 ? await findRuns(db, { jobId }) : runs;
    // The run record in PostgreSQL is the truth about a run; the queue adds whether it waits for a
    // retry and its live progress. A job Redis lost (restarted empty, flushed) or a Redis that does
    // not answer leaves the record's own status.
    let redisError: unknown;
    const orNone = <T>(error: unknown): T | undefined => {
      if (!isRedisUnavailable(error)) throw error;
      redisError = error;
      return undefined;
    };
    const job = jobId ? await etl.queue.getJob(jobId).catch(orNone<undefined>) : undefined;
    const latest = byJob[0];
    if (!latest && !job) {
      if (redisError) throw redisError; // nothing recorded yet and no queue to ask: a 503
      throw new HttpProblem(
        404,
        `no sync run with id ${params.id}: no run of it is recorded and the queue holds no such job (a job Redis lost before a worker started it leaves no run: ask for the sync again)`,
      );
    }
    const jobState = job ? ((await job.getState().catch(orNone<JobState>)) ?? "unknown") : "unknown";
    const progress =
      job && jobState === "active" && job.progress && typeof job.progress === "object"
        ? (job.progress as object)
        : null;
    if (!latest) {
      const data = (job?.data ?? {}) as { models?: string[]; mode?: string; requestedBy?: string };
      return {
        id: params.id,
        runNumber: null,
        job: job?.name ?? "sync",
        status: statusOfJob(jobState),
        mode: data.mode ?? "incremental",
        models: data.models ?? [],
        requestedBy: data.requestedBy ?? null,
        fetched: 0,
        upserted: 0,
        deleted: 0,
        createdAt: job ? new Date(job.timestamp).toISOString() : null,
        startedAt: null,
        finishedAt: null,
        error: job?.failedReason ?? null,
        attempts: job?.attemptsMade ?? 0,
        progress,
        results: [],
      };
    }
    // A run whose job is waiting for a retry shows as queued again.
    const summary = runSummary(latest);
    const status =
      latest.status === "failed" && job && jobState !== "failed" ? statusOfJob(jobState) : summary.status;
    return {
      ...summary,
      id: numeric !== undefined ? params.id : summary.id,
      status,
      attempts: byJob.length,
      progress,
      results: await runModels(db, latest.id),
    };
  });

  mount(app, deps, "listSyncRuns", async ({ query }) => {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const before = query.cursor ? Number(decodeCursor(query.cursor, "runs").value) : undefined;
    const found = await listRuns(db, {
      limit,
      ...(before !== undefined ? { beforeId: before } : {}),
      ...(query.status ? { status: query.status } : {}),
    });
    const more = found.length > limit;
    const page = more ? found.slice(0, limit) : found;
    const last = page[page.length - 1];
    return {
      items: page.map(runSummary),
      next: more && last ? encodeCursor("runs", last.id, last.id) : null,
    };
  });

  mount(app, deps, "syncState", async () => ({ models: await syncState(db) }));
}
