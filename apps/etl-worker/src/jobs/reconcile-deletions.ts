import type { etlQueue } from "@finanzas/contracts";
import { MODEL_NAMES } from "@finanzas/ledger";
import type { Handler } from "@finanzas/queue";
import type { Engine } from "../engine.js";
import { assertKnownModels, jobRun, throwIfFailed } from "./common.js";

/** `reconcile-deletions`: mark records hard-deleted in Odoo, for every model or a subset. */
export const reconcileDeletionsHandler =
  (engine: Engine): Handler<typeof etlQueue, "reconcile-deletions"> =>
  async (payload, ctx) => {
    const models = payload.models ?? [...MODEL_NAMES];
    assertKnownModels(models);
    return throwIfFailed(await engine.reconcileDeletions(jobRun(ctx), models, payload.requestedBy));
  };
