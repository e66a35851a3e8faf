import type { etlQueue, RunResult, SyncMode } from "@finanzas/contracts";
import type { Handler } from "@finanzas/queue";
import type { Engine, JobRun } from "../engine/index.js";
import { jobRun, modelsOf, throwIfFailed } from "./common.js";

/**
 * `sync` of `models` (every registered model when omitted). Per model: an incremental pass from its
 * cursor; or, when `mode` is full, before a first sync, or to finish a full pass an earlier run left
 * in progress, a full pass, then an incremental one from the newest write_date the pass saw (records
 * written behind it while it ran, so a full sync ends consistent on its own rather than at the next
 * incremental), then deletion reconciliation. Then the records earlier runs could not write are
 * read again.
 */
export function sync(
  engine: Engine,
  job: JobRun,
  models: readonly string[] | undefined,
  mode: SyncMode,
  requestedBy?: string,
): Promise<RunResult> {
  return engine.run(job, { job: "sync", models: modelsOf(models), mode, requestedBy }, async (pass) => {
    const cursor = await pass.cursor();
    if (mode === "full" || cursor.fullInProgress || cursor.second === null) {
      const caughtUpTo = await pass.full(cursor);
      if (caughtUpTo !== null) await pass.timed("catchUp", () => pass.incremental(caughtUpTo));
      await pass.timed("reconcile", () => pass.reconcile());
    } else {
      await pass.incremental(cursor.second);
    }
    await pass.timed("rejected", () => pass.rejected());
  });
}

/** `sync`: every registered model (or the payload's subset), incremental unless `mode: full`. */
export const syncHandler =
  (engine: Engine): Handler<typeof etlQueue, "sync"> =>
  async (payload, ctx) =>
    throwIfFailed(
      await sync(engine, jobRun(ctx), payload.models, payload.mode ?? "incremental", payload.requestedBy),
    );
