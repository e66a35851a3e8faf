import type { etlQueue } from "@finanzas/contracts";
import type { Handler } from "@finanzas/queue";
import type { Engine } from "../engine.js";
import { assertKnownModels, jobRun, throwIfFailed } from "./common.js";

/** `sync-records`: re-read some records of one model now (a user just changed an invoice). */
export const syncRecordsHandler =
  (engine: Engine): Handler<typeof etlQueue, "sync-records"> =>
  async (payload, ctx) => {
    assertKnownModels([payload.model]);
    return throwIfFailed(
      await engine.syncRecords(jobRun(ctx), payload.model, payload.ids, payload.requestedBy),
    );
  };
