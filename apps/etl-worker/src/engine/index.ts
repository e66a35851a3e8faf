/**
 * The ETL engine: what the jobs (src/jobs) are made of. A job asks for a run over some models and
 * says what each model's work is, in the passes offered here: a full pass by id, an incremental
 * pass from a write_date, deletion reconciliation, a re-read of some ids. The engine records the
 * run (run.ts), runs up to ETL_MODEL_CONCURRENCY models at once, each under its lease with its field
 * list resolved against fields_get (model.ts), and each pass (passes/) fetches page N+1 from Odoo
 * while page N is written to PostgreSQL (at most two pages per stream in memory), every page
 * committed with the model's cursor. A large model's full pass is several such streams at once,
 * one per id range (passes/full.ts), each committing its own resume point; the Odoo client's limiter
 * keeps the requests in flight within ODOO_MAX_CONCURRENCY whatever the number of streams. A model
 * that fails is recorded and the others go on; the run ends failed if any model failed. A record
 * PostgreSQL cannot store is left out of its page, listed, and read again by the next sync
 * (transform.ts, postgres/rejected.ts, passes/rejected.ts): it never fails its model.
 */
import { inProcessReader } from "../odoo/pages.js";
import { readCursor } from "../postgres/load.js";
import { type ModelContext, timed } from "./model.js";
import { fullPass } from "./passes/full.js";
import { incrementalPass } from "./passes/incremental.js";
import { reconcilePass } from "./passes/reconcile.js";
import { recordsPass } from "./passes/records.js";
import { rejectedPass } from "./passes/rejected.js";
import { executeRun } from "./run.js";
import type { Engine, EngineDeps, EngineParts, ModelPass } from "./types.js";

export type { CursorState } from "../postgres/load.js";
export {
  DEFAULT_SETTINGS,
  type Engine,
  type EngineDeps,
  type EngineParts,
  type EtlSettings,
  type JobRun,
  type ModelPass,
  type RunRequest,
} from "./types.js";

export function createEngine(deps: EngineDeps): Engine {
  const engine: EngineParts = { ...deps, reader: deps.reader ?? inProcessReader() };
  return {
    run: (job, request, work) => executeRun(engine, job, request, (context) => work(passOf(context))),
  };
}

function passOf(context: ModelContext): ModelPass {
  return {
    model: context.model,
    cursor: () => readCursor(context.engine.db, context.model),
    full: (cursor) => fullPass(context, cursor),
    incremental: (second) => incrementalPass(context, second),
    reconcile: () => reconcilePass(context),
    records: (ids) => recordsPass(context, ids),
    rejected: () => rejectedPass(context),
    timed: (phase, fn) => timed(context, phase, fn),
  };
}
