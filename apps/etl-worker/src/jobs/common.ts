import type { RunResult } from "@finanzas/contracts";
import { MODEL_NAMES, type ModelSpec, REGISTRY } from "@finanzas/ledger";
import { type JobContext, UnrecoverableError } from "@finanzas/queue";
import type { JobRun } from "../engine/index.js";

export const jobRun = (ctx: JobContext): JobRun => ({
  jobId: ctx.jobId,
  attempt: ctx.attempt,
  signal: ctx.signal,
  logger: ctx.logger,
  progress: (value) => ctx.progress(value),
});

/** A run that failed fails its job (BullMQ retries it; finished models are not redone). */
export class RunFailedError extends Error {
  constructor(readonly result: RunResult) {
    super(
      `run ${result.runId} failed: ${result.models
        .filter((m) => m.status === "failed")
        .map((m) => `${m.model}: ${m.error ?? "failed"}`)
        .join("; ")}`,
    );
    this.name = "RunFailedError";
  }
}

export function throwIfFailed(result: RunResult): RunResult {
  if (result.status === "failed") throw new RunFailedError(result);
  return result;
}

const BY_NAME = new Map(REGISTRY.map((spec) => [spec.model, spec]));

/**
 * The registry's models a job names (every registered model when it names none): the one place a
 * request's model names are checked. Unknown names fail the job at once, without retry, before
 * anything is recorded.
 */
export function modelsOf(names: readonly string[] | undefined): ModelSpec[] {
  if (names === undefined) return [...REGISTRY];
  const unknown = names.filter((name) => !BY_NAME.has(name));
  if (unknown.length) {
    throw new UnrecoverableError(
      `unknown model(s) ${unknown.join(", ")}: the registry has ${MODEL_NAMES.join(", ")}`,
    );
  }
  return names.map((name) => BY_NAME.get(name) as ModelSpec);
}
