/** Run history: `etl.runs` (one row per job attempt) and `etl.run_models` (one row per model of a run). */
import type { EtlJobName, FinishedRunStatus, SyncMode } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { Problem } from "../transform.js";

export async function createRun(
  db: Kysely<Database>,
  run: {
    job: EtlJobName;
    jobId: string;
    attempt: number;
    mode: SyncMode | null;
    models: string[];
    requestedBy: string | undefined;
  },
): Promise<number> {
  const row = await db
    .insertInto("etl.runs")
    .values({
      job: run.job,
      job_id: run.jobId,
      attempt: run.attempt,
      mode: run.mode,
      models: run.models,
      status: "queued",
      requested_by: run.requestedBy ?? null,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await db
    .insertInto("etl.run_models")
    .values(run.models.map((model) => ({ run_id: row.id, model, status: "queued" as const, mode: run.mode })))
    .execute();
  return row.id;
}

/** Models that already succeeded in an earlier attempt of the same job (a retry skips them). */
export async function succeededEarlier(
  db: Kysely<Database>,
  jobId: string,
  runId: number,
): Promise<Set<string>> {
  const rows = await db
    .selectFrom("etl.run_models as m")
    .innerJoin("etl.runs as r", "r.id", "m.run_id")
    .select("m.model")
    .where("r.job_id", "=", jobId)
    .where("r.id", "<>", runId)
    .where("m.status", "=", "succeeded")
    .execute();
  return new Set(rows.map((r) => r.model));
}

export async function markRunRunning(db: Kysely<Database>, runId: number): Promise<void> {
  await db
    .updateTable("etl.runs")
    .set({ status: "running", started_at: sql<Date>`coalesce(started_at, now())` })
    .where("id", "=", runId)
    .where("status", "=", "queued")
    .execute();
}

export async function markModelRunning(
  db: Kysely<Database>,
  runId: number,
  model: string,
  mode: SyncMode,
): Promise<void> {
  await markRunRunning(db, runId);
  await db
    .updateTable("etl.run_models")
    .set({ status: "running", started_at: sql<Date>`now()`, mode })
    .where("run_id", "=", runId)
    .where("model", "=", model)
    .execute();
}

export interface ModelCounts {
  fetched: number;
  upserted: number;
  deleted: number;
}

export async function finishModel(
  db: Kysely<Database>,
  runId: number,
  model: string,
  outcome: ModelCounts & {
    status: FinishedRunStatus;
    missing: string[];
    problems: Problem[];
    rejected: number;
    error: string | undefined;
  },
): Promise<void> {
  await db
    .updateTable("etl.run_models")
    .set({
      status: outcome.status,
      fetched: outcome.fetched,
      upserted: outcome.upserted,
      deleted: outcome.deleted,
      rejected: outcome.rejected,
      missing_fields: outcome.missing,
      problems: JSON.stringify(outcome.problems.slice(0, 1000)),
      error: outcome.error ?? null,
      finished_at: sql<Date>`now()`,
    })
    .where("run_id", "=", runId)
    .where("model", "=", model)
    .execute();
}

export async function finishRun(
  db: Kysely<Database>,
  runId: number,
  outcome: ModelCounts & { status: FinishedRunStatus; rejected: number; error: string | undefined },
): Promise<void> {
  await db
    .updateTable("etl.runs")
    .set({
      status: outcome.status,
      fetched: outcome.fetched,
      upserted: outcome.upserted,
      deleted: outcome.deleted,
      rejected: outcome.rejected,
      error: outcome.error ?? null,
      started_at: sql<Date>`coalesce(started_at, now())`,
      finished_at: sql<Date>`now()`,
    })
    .where("id", "=", runId)
    .execute();
}
