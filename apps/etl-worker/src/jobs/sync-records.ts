import type { etlQueue, RunResult } from "@finanzas/contracts";
import type { Handler } from "@finanzas/queue";
import type { Engine, JobRun, RunRequest } from "../engine/index.js";
import { jobRun, modelsOf, throwIfFailed } from "./common.js";

/** `sync-records`: read these ids of `model` now; the ones Odoo no longer has are marked deleted. */
export function syncRecords(
  engine: Engine,
  job: JobRun,
  model: string,
  ids: readonly number[],
  requestedBy?: string,
): Promise<RunResult> {
  const request: RunRequest = { job: "sync-records", models: modelsOf([model]), mode: null, requestedBy };
  return engine.run(job, request, (pass) => pass.records(ids));
}

/** `sync-records`: re-read some records of one model now (a user just changed an invoice). */
export const syncRecordsHandler =
  (engine: Engine): Handler<typeof etlQueue, "sync-records"> =>
  async (payload, ctx) =>
    throwIfFailed(await syncRecords(engine, jobRun(ctx), payload.model, payload.ids, payload.requestedBy));
