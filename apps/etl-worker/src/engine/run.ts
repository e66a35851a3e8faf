/**
 * A run: one job attempt recorded in `etl.runs` and `etl.run_models`, its models worked on side by
 * side (largest first, up to ETL_MODEL_CONCURRENCY), their outcomes recorded and told to the
 * metrics, the progress published on the job, and at the end the "data changed" signal for the
 * models whose rows changed.
 */
import {
  type DataChanged,
  dataChangedChannel,
  type EtlJobName,
  type FinishedRunStatus,
  odooTableName,
  type RunResult,
} from "@finanzas/contracts";
import { type ModelSpec, tableOf } from "@finanzas/ledger";
import { idempotentWrite } from "../postgres/reconnect.js";
import { createRun, finishModel, finishRun, type ModelCounts, succeededEarlier } from "../postgres/runs.js";
import { rowEstimates } from "../postgres/statistics.js";
import type { Problem } from "../transform.js";
import { type ModelContext, type Outcome, runModel } from "./model.js";
import { eachLimited } from "./pipeline.js";
import { RunState } from "./run-state.js";
import type { EngineParts, JobRun, RunRequest } from "./types.js";

/**
 * The order models start in: largest first (longest-processing-time first), so the biggest table
 * does not start last and leave the other slots idle while it runs alone. Sizes are PostgreSQL's
 * row estimates of the local tables; before a first sync (no estimates) journal items and then
 * journal entries go first, being the largest tables of any ledger; the rest keep registry order.
 */
async function largestFirst(engine: EngineParts, models: readonly ModelSpec[]): Promise<ModelSpec[]> {
  const estimate = await rowEstimates(engine.db);
  const fallback = ["account.move.line", "account.move"];
  const size = (model: string) => estimate.get(tableOf(model)) ?? 0;
  const rank = (model: string) => {
    const i = fallback.indexOf(model);
    return i < 0 ? fallback.length : i;
  };
  return models
    .map((spec, i) => ({ spec, i, size: size(spec.model), rank: rank(spec.model) }))
    .sort((a, b) => b.size - a.size || a.rank - b.rank || a.i - b.i)
    .map((m) => m.spec);
}

/** A run: history rows, models in parallel, the outcome recorded, the signal published. */
export async function executeRun(
  engine: EngineParts,
  job: JobRun,
  request: RunRequest,
  work: (context: ModelContext) => Promise<void>,
): Promise<RunResult> {
  const { db, settings } = engine;
  const { mode } = request;
  const started = Date.now();
  const models = request.models.map((spec) => spec.model);
  const runId = await createRun(db, {
    job: request.job,
    jobId: job.jobId,
    attempt: job.attempt,
    mode,
    models,
    requestedBy: request.requestedBy,
  });
  // A retried (or stalled and restarted) job does not redo the models an earlier attempt finished.
  const skip = await succeededEarlier(db, job.jobId, runId);
  const run = new RunState(runId, job, models);
  run.progress.phase = "running";
  const outcomes = new Map<string, Outcome>();
  await eachLimited(await largestFirst(engine, request.models), settings.modelConcurrency, async (spec) => {
    const model = spec.model;
    if (skip.has(model)) {
      const outcome: Outcome = {
        status: "succeeded",
        fetched: 0,
        upserted: 0,
        deleted: 0,
        missing: [],
        problems: [],
        rejected: 0,
        error: "already done by an earlier attempt of this job",
      };
      outcomes.set(model, outcome);
      await idempotentWrite(db, job.signal, () =>
        finishModel(db, runId, model, { ...outcome, error: outcome.error }),
      );
      run.update(model, { status: "succeeded" });
      return;
    }
    const modelStarted = Date.now();
    const outcome = await runModel(engine, run, spec, mode, work);
    engine.metrics?.modelEnded({
      model,
      job: request.job,
      mode,
      status: outcome.status,
      fetched: outcome.fetched,
      upserted: outcome.upserted,
      deleted: outcome.deleted,
      seconds: (Date.now() - modelStarted) / 1000,
    });
    outcomes.set(model, outcome);
    // written again once PostgreSQL answers, should it be restarting: the model's work is done
    await idempotentWrite(db, job.signal, () => finishModel(db, runId, model, outcome));
    run.update(
      model,
      {
        status: outcome.status,
        fetched: outcome.fetched,
        upserted: outcome.upserted,
        deleted: outcome.deleted,
      },
      true,
    );
  });
  const all = models.map((model) => ({ model, ...(outcomes.get(model) as Outcome) }));
  const failed = all.filter((o) => o.status === "failed");
  const totals = all.reduce(
    (t, o) => ({
      fetched: t.fetched + o.fetched,
      upserted: t.upserted + o.upserted,
      deleted: t.deleted + o.deleted,
    }),
    { fetched: 0, upserted: 0, deleted: 0 },
  );
  const status: FinishedRunStatus = failed.length ? "failed" : "succeeded";
  const error = failed.length ? failed.map((o) => `${o.model}: ${o.error}`).join("\n") : undefined;
  const rejected = all.reduce((n, o) => n + o.rejected, 0);
  await idempotentWrite(db, job.signal, () => finishRun(db, runId, { status, ...totals, rejected, error }));
  run.progress.phase = status;
  run.update(models[0] ?? "", {}, true);
  await publish(engine, runId, request.job, all);
  job.logger.info({ runId, status, ...totals, rejected, ms: Date.now() - started }, `run ${status}`);
  return {
    runId,
    status,
    ms: Date.now() - started,
    models: all.map((o) => ({
      model: o.model,
      status: o.status,
      fetched: o.fetched,
      upserted: o.upserted,
      deleted: o.deleted,
      missingFields: o.missing,
      ...(o.rejected > 0 ? { rejected: o.rejected, rejectedRecords: rejectedRecords(o.problems) } : {}),
      ...(o.error ? { error: o.error } : {}),
    })),
  };
}

/** The first records a model left out, for the job's result: id, field, why (all are in etl.rejected). */
function rejectedRecords(problems: readonly Problem[]): { id: number; field: string; reason: string }[] {
  const seen = new Set<number>();
  const out: { id: number; field: string; reason: string }[] = [];
  for (const p of problems) {
    if (p.action !== "rejected" || seen.has(p.id)) continue;
    seen.add(p.id);
    out.push({ id: p.id, field: p.field, reason: `expected ${p.expected}, got ${p.value}` });
    if (out.length === 20) break;
  }
  return out;
}

/** "Data changed" for the models whose rows changed (see DataChanged); a failure to publish is logged. */
async function publish(
  engine: EngineParts,
  runId: number,
  job: EtlJobName,
  outcomes: ({ model: string } & ModelCounts)[],
): Promise<void> {
  const changed = outcomes.filter((o) => o.upserted + o.deleted > 0);
  if (!engine.publisher || changed.length === 0) return;
  const message: DataChanged = {
    runId,
    job,
    models: changed.map((o) => o.model),
    tables: changed.map((o) => odooTableName(o.model)),
    counts: Object.fromEntries(changed.map((o) => [o.model, { upserted: o.upserted, deleted: o.deleted }])),
    at: new Date().toISOString(),
  };
  try {
    await engine.publisher.publish(dataChangedChannel(engine.queuePrefix), JSON.stringify(message));
  } catch (error) {
    engine.logger.warn({ err: error, runId }, "could not publish the data-changed signal");
  }
}
