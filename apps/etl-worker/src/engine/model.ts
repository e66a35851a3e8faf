/**
 * One model's work in a run: its lease taken (waiting for another run that holds it) and kept alive,
 * its field list resolved against the server's fields_get, the passes a job asks for run over it,
 * its table's planner statistics refreshed, and its outcome recorded. Also what every pass shares:
 * writing a page with the model's cursor, and reporting the records a page left out.
 */
import type { FinishedRunStatus, SyncMode } from "@finanzas/contracts";
import { isConnectionError } from "@finanzas/db";
import type { ModelSpec } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import { OdooAccessError, OdooError, OdooUserError } from "@finanzas/odoo";
import type { Pool } from "pg";
import type { PageRequest } from "../odoo/pages.js";
import {
  fieldsGet,
  type ResolvedModel,
  read,
  rereadPerCompany,
  resolveModel,
  type Source,
} from "../odoo/source.js";
import { ReaderThreadError } from "../odoo/thread-reader.js";
import {
  type CopyStatements,
  type CursorPatch,
  copyBatch,
  copyStatements,
  type Lease,
  LeaseLostError,
  type PartitionPatch,
  patchCursor,
  upsertStatement,
  writeBatch,
} from "../postgres/load.js";
import { acquire, keepAlive, release } from "../postgres/locks.js";
import { DATABASE_RESUMES, databaseAnswers } from "../postgres/reconnect.js";
import { hasRejected, type Rejections } from "../postgres/rejected.js";
import { type ModelCounts, markModelRunning } from "../postgres/runs.js";
import { refreshStatistics } from "../postgres/statistics.js";
import {
  type ArrayPage,
  createTransformer,
  type EncodedPage,
  type Problem,
  type Transformer,
} from "../transform.js";
import type { RunState } from "./run-state.js";
import type { EngineParts } from "./types.js";

/**
 * A connection to PostgreSQL lost under the model (its batch rolled back: resume from the cursor),
 * not an Odoo request's failure: those carry the same socket codes (ECONNRESET, a timeout) but have
 * had their retries within the call's deadline already (ODOO_CALL_DEADLINE_MS), and resuming the
 * model would make another layer of them.
 */
const lostPostgres = (error: unknown): boolean =>
  !(error instanceof OdooError) &&
  !(error instanceof ReaderThreadError && error.name.startsWith("Odoo")) &&
  isConnectionError(error);

/** What one model's work has: the engine, its run, its lease, where it reads Odoo, its tallies. */
export interface ModelTask {
  engine: EngineParts;
  run: RunState;
  spec: ModelSpec;
  model: string;
  lease: Lease;
  signal: AbortSignal;
  source: Source;
  counts: ModelCounts;
  /**
   * The main pass's records done (each once) over those it has to read, for the run's progress;
   * `expected` unknown until a pass counts them (see `expectRecords`).
   */
  progress: { done: number; expected: number | undefined };
  /** Records left out or cleaned, the first 1 000, for the run history. */
  problems: Problem[];
  /** Ids of the records left out by this run (each once). */
  rejected: Set<number>;
  /**
   * Whether etl.rejected may list records of the model: the pages' transactions then also take out
   * the ids they wrote (a statement saved per page when the list has none).
   */
  rejections: { listed: boolean };
  log: Logger;
  /** Wall time of each phase of the model's work (ms), logged with its outcome. */
  phaseMs: Record<string, number>;
}

/** The model as this server has it: its columns, how its records are mapped and written. */
export interface Prepared {
  resolved: ResolvedModel;
  transformer: Transformer;
  statement: string;
  copy: CopyStatements;
  request: PageRequest;
}

/** What a pass works with: the model's task, prepared. */
export interface ModelContext extends ModelTask {
  prepared: Prepared;
}

export type Outcome = ModelCounts & {
  status: FinishedRunStatus;
  missing: string[];
  problems: Problem[];
  /** Records left out (a value PostgreSQL cannot store), each once. */
  rejected: number;
  error: string | undefined;
};

/** Runs a phase of a model's work and records its wall time on the task. */
export async function timed<T>(
  task: Pick<ModelTask, "phaseMs">,
  phase: string,
  fn: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    task.phaseMs[phase] = Math.round((task.phaseMs[phase] ?? 0) + performance.now() - started);
  }
}

const errorText = (error: unknown): string => {
  if (error instanceof OdooError) return `${error.name}: ${error.message}`;
  // Raised on the reader thread: its name travelled with it (OdooAuthError, OdooTransportError, …).
  if (error instanceof ReaderThreadError && error.name !== "Error") return `${error.name}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
};

const sourceFor = (engine: EngineParts, signal: AbortSignal, log: Logger): Source => ({
  client: engine.odoo,
  signal,
  onRetry: ({ call, attempt, delayMs, error }) =>
    log.warn({ call, attempt, delayMs, err: errorText(error) }, "Odoo call failed, retrying"),
});

/** The progress fields of a model's entry: records done over expected, once a pass knows them. */
export const progressOf = (task: Pick<ModelTask, "progress">): { done?: number; expected?: number } =>
  task.progress.expected === undefined ? {} : { done: task.progress.done, expected: task.progress.expected };

/**
 * The model's main pass will read `expected` records (`done` of them already, by an earlier run):
 * from now on the progress counts toward them. False when a pass before this one already counts (a
 * catch-up after a full pass re-reads records the full pass counted).
 */
export function expectRecords(task: ModelTask, expected: number, done = 0): boolean {
  if (task.progress.expected !== undefined) return false;
  task.progress.expected = expected;
  task.progress.done = done;
  task.run.update(task.model, progressOf(task), true);
  return true;
}

/** Rejected ids kept per model and run, at most (beyond, the count goes on without them). */
const REJECTED_IDS_KEPT = 100_000;

/**
 * Records left out (a value PostgreSQL cannot store) and text cleaned: kept on the run (the first
 * 1 000), counted, logged with model, id, field and why.
 */
export function report(task: ModelTask, problems: readonly Problem[]): void {
  for (const p of problems) {
    if (task.problems.length < 1000) task.problems.push(p);
    if (p.action === "rejected") {
      task.rejections.listed = true;
      if (task.rejected.size < REJECTED_IDS_KEPT) task.rejected.add(p.id);
      task.log.error(
        p,
        `record not written: ${p.model} ${p.id} field ${p.field}: expected ${p.expected}, got ${p.value} (listed in etl.rejected, read again by the next sync)`,
      );
    } else {
      task.log.warn(p, `control characters removed from ${p.model} ${p.id} field ${p.field} (${p.value})`);
    }
  }
}

/** Records through the transformer, straight to the upsert's column arrays; problems reported. */
export function encode(
  context: ModelContext,
  records: Record<string, unknown>[],
): { page: ArrayPage; problems: Problem[] } {
  const problems: Problem[] = [];
  const page = context.prepared.transformer.encode(records, (found) => problems.push(...found));
  report(context, problems);
  return { page, problems };
}

/** The model's fields on this server, its transformer, its upsert and COPY statements, its page request. */
async function prepare(task: ModelTask): Promise<Prepared> {
  const meta = await fieldsGet(task.source, task.model);
  const resolved = resolveModel(task.spec, meta);
  if (resolved.missing.length) {
    task.log.warn({ missing: resolved.missing }, "wanted fields this Odoo does not have: not synced");
  }
  const decimals = await task.run.currencyDecimals(task.source);
  const transformer = createTransformer(task.model, resolved.columns, decimals);
  const request: PageRequest = {
    model: task.model,
    fields: resolved.columns.map((c) => c.name),
    columns: resolved.columns,
    decimals,
    limit: task.engine.settings.pageSize,
    ...(resolved.perCompany ? { perCompany: resolved.perCompany } : {}),
  };
  return {
    resolved,
    transformer,
    statement: upsertStatement(task.model, resolved.columns),
    copy: copyStatements(task.model, resolved.columns),
    request,
  };
}

/** What a page's transaction does besides writing its rows. */
export interface WriteOptions {
  cursor?: CursorPatch | undefined;
  partition?: PartitionPatch | undefined;
  /** The page's problems: its rejected records are listed in etl.rejected with it. */
  problems?: readonly Problem[] | undefined;
  /**
   * The range of ids a full pass's page read whole: every id in it it did not reject leaves
   * etl.rejected. Other pages take out the ids they wrote.
   */
  range?: { afterId: number; lastId: number } | undefined;
}

/** The page's changes to etl.rejected, or none when the model has nothing listed and the page rejected nothing. */
function rejectionsOf(
  context: ModelContext,
  page: EncodedPage,
  options: WriteOptions,
): Rejections | undefined {
  const rejectedAny = options.problems?.some((p) => p.action === "rejected") ?? false;
  if (!rejectedAny && !context.rejections.listed) return undefined;
  const clear = options.range
    ? options.range
    : page.format === "arrays" && page.rows > 0
      ? { ids: page.columns[0] as string }
      : undefined;
  return { runId: context.run.runId, problems: options.problems ?? [], clear };
}

/**
 * One page written in one transaction with the lease check, its rejected records listed and,
 * when given, the cursor's move or its partition's.
 */
export async function write(
  context: ModelContext,
  page: EncodedPage,
  options: WriteOptions = {},
): Promise<void> {
  const { engine, prepared } = context;
  if (context.signal.aborted) throw context.signal.reason;
  const { cursor, partition } = options;
  const rejections = rejectionsOf(context, page, options);
  const batch = {
    model: context.model,
    lease: context.lease,
    ...(cursor ? { cursor } : {}),
    ...(partition ? { partition } : {}),
    ...(rejections ? { rejections } : {}),
  };
  const changed =
    page.format === "copy"
      ? await copyBatch(engine.pool as Pool, engine.db, { ...batch, statements: prepared.copy, page })
      : await writeBatch(engine.db, { ...batch, statement: prepared.statement, page });
  // PostgreSQL has the page: its bytes go back to the reader for a later page.
  engine.reader.recycle?.(page);
  context.counts.upserted += changed;
  context.run.update(context.model, { ...context.counts, ...progressOf(context) });
}

/** Records by id, company-dependent fields read in each record's company (reconcile, sync-records). */
export async function readIds(context: ModelContext, ids: number[]): Promise<Record<string, unknown>[]> {
  const { resolved } = context.prepared;
  const fields = resolved.columns.map((c) => c.name);
  const records = await read(context.source, context.model, ids, fields);
  await rereadPerCompany(context.source, context.model, records, resolved.perCompany);
  return records;
}

/**
 * Why a model cannot be read at all, when that is the server's answer rather than a failure: it
 * does not exist there (XML-RPC fault 2 "Object … doesn't exist", JSON-2 404) or the sync user
 * may not read it (fault 4, JSON-2 403).
 */
function absenceOf(error: unknown): string | undefined {
  if (error instanceof OdooAccessError) return `the sync user may not read it (${error.message})`;
  if (
    error instanceof OdooUserError &&
    (error.status === 404 || /doesn't exist|does not exist|unknown model/i.test(error.message))
  )
    return `this Odoo server does not have it (${error.message})`;
  return undefined;
}

/**
 * Runs one model under its lease; never throws (the outcome says what happened).
 *
 * A lost PostgreSQL connection (a restarted server, a terminated backend) fails only the batch in
 * flight, which rolls back with its cursor: the model waits for PostgreSQL to answer again, gives
 * back its lease, takes it again (waiting, like any run, when another worker took the model over
 * meanwhile) and resumes from the cursor its last committed batch left, within the same run.
 */
export async function runModel(
  engine: EngineParts,
  run: RunState,
  spec: ModelSpec,
  mode: SyncMode | null,
  work: (context: ModelContext) => Promise<void>,
): Promise<Outcome> {
  const model = spec.model;
  const log = run.job.logger.child({ model, runId: run.runId });
  const counts: ModelCounts = { fetched: 0, upserted: 0, deleted: 0 };
  const problems: Problem[] = [];
  const rejected = new Set<number>();
  const phaseMs: Record<string, number> = {};
  const abort = new AbortController();
  const onJobAbort = () => abort.abort(run.job.signal.reason);
  run.job.signal.addEventListener("abort", onJobAbort, { once: true });
  if (run.job.signal.aborted) abort.abort(run.job.signal.reason);
  const state = { engine, run, spec, model, mode, work, log, counts, problems, rejected, phaseMs, abort };
  try {
    for (let resumes = 0; ; resumes++) {
      const attempt = await attemptModel(state, resumes < DATABASE_RESUMES);
      if (attempt !== "resume") return attempt;
    }
  } finally {
    run.job.signal.removeEventListener("abort", onJobAbort);
  }
}

interface ModelRun {
  engine: EngineParts;
  run: RunState;
  spec: ModelSpec;
  model: string;
  mode: SyncMode | null;
  work: (context: ModelContext) => Promise<void>;
  log: Logger;
  counts: ModelCounts;
  problems: Problem[];
  rejected: Set<number>;
  phaseMs: Record<string, number>;
  abort: AbortController;
}

/** One go at a model under a lease of its own: its outcome, or "resume" once PostgreSQL is back. */
async function attemptModel(state: ModelRun, mayResume: boolean): Promise<Outcome | "resume"> {
  const { engine, run, spec, model, mode, work, log, counts, problems, rejected, phaseMs, abort } = state;
  const { db, settings } = engine;
  let missing: string[] = [];
  let lease: Lease | undefined;
  let stopKeepAlive = () => {};
  try {
    lease = await acquire(db, model, run.runId, settings.lockTtlSeconds, abort.signal, (holder) =>
      log.info({ holder }, "model is being synced by another run: waiting for it"),
    );
    stopKeepAlive = keepAlive(db, lease, (error) => abort.abort(error));
    await markModelRunning(db, run.runId, model, mode ?? "incremental");
    run.update(model, { status: "running" }, true);
    const task: ModelTask = {
      engine,
      run,
      spec,
      model,
      lease,
      signal: abort.signal,
      source: sourceFor(engine, abort.signal, log),
      counts,
      progress: { done: 0, expected: undefined },
      problems,
      rejected,
      rejections: { listed: await hasRejected(db, model) },
      log,
      phaseMs,
    };
    let prepared: Prepared;
    try {
      prepared = await prepare(task);
    } catch (error) {
      const absence = spec.optional ? absenceOf(error) : undefined;
      if (absence === undefined) throw error;
      // An optional model this server lacks: noted, nothing to copy, the run goes on.
      const now = new Date();
      await patchCursor(db, model, {
        absent_at: now,
        ...(mode !== null ? { last_success_at: now, last_run_id: run.runId } : {}),
      });
      log.warn({ reason: absence }, "optional model not available on this Odoo: skipped");
      return {
        status: "succeeded",
        ...counts,
        missing,
        problems,
        rejected: 0,
        error: `skipped: ${model} is optional and ${absence}`,
      };
    }
    missing = prepared.resolved.missing;
    await work({ ...task, prepared });
    try {
      const analyzeMs = await refreshStatistics(db, model, {
        full: mode === "full",
        changed: counts.upserted + counts.deleted,
      });
      if (analyzeMs !== undefined) phaseMs.analyze = analyzeMs;
    } catch (error) {
      // Autovacuum gets there later: logged, not the model's failure.
      log.warn({ err: error }, "could not refresh the table's planner statistics (ANALYZE)");
    }
    // Records left out do not fail the model: the rest is written and up to date, and they are
    // listed (in the run and in etl.rejected) and read again by the next sync.
    const status: FinishedRunStatus = "succeeded";
    // "Last success" is when the model was last brought up to date: a sync, not a few records
    // re-read by sync-records nor a deletion check.
    if (mode !== null)
      await patchCursor(db, model, {
        last_success_at: new Date(),
        last_run_id: run.runId,
        absent_at: null,
      });
    log.info(
      { ...counts, missing: missing.length, rejected: rejected.size, problems: problems.length, phaseMs },
      `model ${status}`,
    );
    return { status, ...counts, missing, problems, rejected: rejected.size, error: undefined };
  } catch (error) {
    if (mayResume && !abort.signal.aborted && lostPostgres(error)) {
      stopKeepAlive();
      log.warn(
        { err: error, ...counts },
        "lost PostgreSQL under the model: its batch rolled back; resuming from the committed cursor once PostgreSQL answers",
      );
      // Waited for here, so that the lease is given back (finally) once it can be.
      if (await databaseAnswers(db, abort.signal)) return "resume";
    }
    const reason = abort.signal.aborted && !(error instanceof LeaseLostError) ? abort.signal.reason : error;
    log.error({ err: reason, ...counts }, "model failed");
    return {
      status: "failed",
      ...counts,
      missing,
      problems,
      rejected: rejected.size,
      error: errorText(reason),
    };
  } finally {
    stopKeepAlive();
    if (lease)
      await release(db, lease).catch((error: unknown) =>
        log.warn({ err: error }, "could not release the lock"),
      );
  }
}
