import type { RunResult } from "@finanzas/contracts";
import { MODEL_NAMES } from "@finanzas/ledger";
import { type JobContext, UnrecoverableError } from "@finanzas/queue";
import type { JobRun } from "../engine.js";

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

/** Unknown model names fail the job at once, without retry. */
export function assertKnownModels(models: readonly string[]): void {
  const unknown = models.filter((m) => !MODEL_NAMES.includes(m));
  if (unknown.length) {
    throw new UnrecoverableError(
      `unknown model(s) ${unknown.join(", ")}: the registry has ${MODEL_NAMES.join(", ")}`,
    );
  }
}
