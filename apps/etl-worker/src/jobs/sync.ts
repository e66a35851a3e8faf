import type { etlQueue } from "@finanzas/contracts";
import { MODEL_NAMES } from "@finanzas/ledger";
import type { Handler } from "@finanzas/queue";
import type { Engine } from "../engine.js";
import { assertKnownModels, jobRun, throwIfFailed } from "./common.js";

/** `sync`: every registered model (or the payload's subset), incremental unless `mode: full`. */
export const syncHandler =
  (engine: Engine): Handler<typeof etlQueue, "sync"> =>
  async (payload, ctx) => {
    const models = payload.models ?? [...MODEL_NAMES];
    assertKnownModels(models);
    return throwIfFailed(
      await engine.sync(jobRun(ctx), models, payload.mode ?? "incremental", payload.requestedBy),
    );
  };
