import type { etlQueue, RunResult } from "@finanzas/contracts";
import type { Handler } from "@finanzas/queue";
import type { Engine, JobRun, RunRequest } from "../engine/index.js";
import { jobRun, modelsOf, throwIfFailed } from "./common.js";

/**
 * `reconcile-deletions` over `models` (every registered model when omitted). A model already synced
 * is first caught up incrementally: a create not yet synced whose id is below the highest local one
 * (a late commit, or a record `sync-records` brought ahead of its elders) would otherwise cancel out
 * a deletion counted in the same id range. A model whose full pass is in progress is not: its
 * incremental cursor waits for the pass to end.
 */
export function reconcileDeletions(
  engine: Engine,
  job: JobRun,
  models: readonly string[] | undefined,
  requestedBy?: string,
): Promise<RunResult> {
  const request: RunRequest = {
    job: "reconcile-deletions",
    models: modelsOf(models),
    mode: null,
    requestedBy,
  };
  return engine.run(job, request, async (pass) => {
    const cursor = await pass.cursor();
    const second = cursor.second;
    if (second !== null && !cursor.fullInProgress) {
      await pass.timed("catchUp", () => pass.incremental(second));
    }
    await pass.reconcile();
  });
}

/** `reconcile-deletions`: mark records hard-deleted in Odoo, for every model or a subset. */
export const reconcileDeletionsHandler =
  (engine: Engine): Handler<typeof etlQueue, "reconcile-deletions"> =>
  async (payload, ctx) =>
    throwIfFailed(await reconcileDeletions(engine, jobRun(ctx), payload.models, payload.requestedBy));
