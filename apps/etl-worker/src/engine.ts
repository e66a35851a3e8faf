/**
 * The ETL engine: what a job does, model by model. For each model (up to ETL_MODEL_CONCURRENCY at
 * once) it waits for the model's lease, resolves the field list against fields_get, then runs a
 * pipeline that fetches page N+1 from Odoo while page N is written to PostgreSQL (at most two
 * pages per model in memory), each page committed with the model's cursor. A model that fails is
 * recorded and the others go on; the run ends failed if any model failed.
 */
import type { DataChanged, RunProgress, RunResult } from "@finanzas/contracts";
import { dataChangedChannel, odooTableName } from "@finanzas/contracts";
import { type Database, type Kysely, sql } from "@finanzas/db";
import { specOf, tableOf } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import { OdooAccessError, type OdooClient, OdooError, OdooUserError } from "@finanzas/odoo";
import type { Redis } from "ioredis";
import type { Pool } from "pg";
import type { EtlMetrics } from "./metrics.js";
import { inProcessReader, type PageReader, type PageRequest } from "./odoo/pages.js";
import {
  currencyDecimals,
  fieldsGet,
  maxId,
  type Position,
  type ResolvedModel,
  read,
  rereadPerCompany,
  resolveModel,
  type Source,
  searchCount,
  searchIds,
} from "./odoo/source.js";
import { ReaderThreadError } from "./odoo/thread-reader.js";
import {
  type CopyStatements,
  copyBatch,
  copyStatements,
  EMPTY_PAGE,
  type Lease,
  LeaseLostError,
  localCount,
  localIds,
  localMaxId,
  markDeleted,
  patchCursor,
  tableMaxId,
  upsertStatement,
  writeBatch,
} from "./postgres/load.js";
import { acquire, keepAlive, release } from "./postgres/locks.js";
import {
  createRun,
  finishModel,
  finishRun,
  type JobKind,
  type ModelCounts,
  markModelRunning,
  succeededEarlier,
} from "./postgres/runs.js";
import {
  type ArrayPage,
  createTransformer,
  type EncodedPage,
  type Problem,
  type Transformer,
} from "./transform.js";

export interface EtlSettings {
  /** Records per Odoo page (ODOO_PAGE_SIZE). */
  pageSize: number;
  /** Models synced at once per job (ETL_MODEL_CONCURRENCY). */
  modelConcurrency: number;
  /** The incremental window starts this long before the cursor (ETL_OVERLAP_SECONDS). */
  overlapSeconds: number;
  /** Lease of a model's lock; renewed every third of it (ETL_LOCK_TTL_SECONDS). */
  lockTtlSeconds: number;
  /** Attempts per Odoo call on top of the client's own retries (ETL_ODOO_RETRIES). */
  retryAttempts: number;
  retryBaseDelayMs: number;
  /** Deletion reconciliation: ranges holding at most this many ids are compared id by id. */
  reconcileLeafSize: number;
}

export const DEFAULT_SETTINGS: EtlSettings = {
  pageSize: 1000,
  modelConcurrency: 4,
  overlapSeconds: 600,
  lockTtlSeconds: 60,
  retryAttempts: 6,
  retryBaseDelayMs: 1000,
  reconcileLeafSize: 2000,
};

export interface EngineDeps {
  db: Kysely<Database>;
  /**
   * The pool behind `db`: with it, the pages of a full pass whose ids are above every id the table
   * holds (a first sync) are written with COPY instead of the upsert.
   */
  pool?: Pool | undefined;
  odoo: OdooClient;
  /** Publishes the "data changed" signal; omitted = not published. */
  publisher?: Pick<Redis, "publish"> | undefined;
  queuePrefix: string;
  logger: Logger;
  settings: EtlSettings;
  /** Where sync pages are fetched, decoded and mapped; default: on this thread with `odoo`. */
  reader?: PageReader | undefined;
  /** Told as each model's work in a run ends (Prometheus in the service). */
  metrics?: EtlMetrics | undefined;
}

export interface JobRun {
  jobId: string;
  attempt: number;
  signal: AbortSignal;
  logger: Logger;
  progress(value: object): Promise<void>;
}

type Outcome = ModelCounts & {
  status: "succeeded" | "failed";
  missing: string[];
  problems: Problem[];
  error: string | undefined;
};

/** What one model's work needs. */
interface ModelTask {
  run: RunState;
  model: string;
  lease: Lease;
  signal: AbortSignal;
  source: Source;
  counts: ModelCounts;
  problems: Problem[];
  log: Logger;
  /** Wall time of each phase of the model's work (ms), logged with its outcome. */
  phaseMs: Record<string, number>;
}

/** Runs a phase of a model's work and records its wall time on the task. */
async function timed<T>(task: ModelTask, phase: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    task.phaseMs[phase] = Math.round((task.phaseMs[phase] ?? 0) + performance.now() - started);
  }
}

class RunState {
  readonly progress: RunProgress;
  private lastPublished = 0;
  private decimals: Promise<Map<number, number>> | undefined;
  constructor(
    readonly runId: number,
    readonly job: JobRun,
    models: string[],
  ) {
    this.progress = {
      runId,
      phase: "queued",
      models: Object.fromEntries(
        models.map((m) => [m, { status: "queued" as const, fetched: 0, upserted: 0, deleted: 0 }]),
      ),
    };
  }
  currencyDecimals(source: Source): Promise<Map<number, number>> {
    this.decimals ??= currencyDecimals(source).catch((error: unknown) => {
      this.decimals = undefined;
      throw error;
    });
    return this.decimals;
  }
  update(model: string, patch: Partial<RunProgress["models"][string]>, force = false): void {
    const entry = this.progress.models[model];
    if (entry) Object.assign(entry, patch);
    const now = Date.now();
    if (force || now - this.lastPublished > 500) {
      this.lastPublished = now;
      this.job.progress(structuredClone(this.progress)).catch(() => {});
    }
  }
}

const errorText = (error: unknown): string => {
  if (error instanceof OdooError) return `${error.name}: ${error.message}`;
  // Raised on the reader thread: its name travelled with it (OdooAuthError, OdooTransportError, …).
  if (error instanceof ReaderThreadError && error.name !== "Error") return `${error.name}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
};

/**
 * The order models start in: largest first (longest-processing-time first), so the biggest table
 * does not start last and leave the other slots idle while it runs alone. Sizes are PostgreSQL's
 * row estimates of the local tables; before a first sync (no estimates) journal items and then
 * journal entries go first, being the largest tables of any ledger; the rest keep registry order.
 */
async function largestFirst(db: Kysely<Database>, models: string[]): Promise<string[]> {
  const { rows } = await sql<{ table: string; rows: number }>`
    select c.relname as table, greatest(c.reltuples, 0)::float8 as rows
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'odoo' and c.relkind = 'r'`.execute(db);
  const estimate = new Map(rows.map((r) => [r.table, Number(r.rows)]));
  const fallback = ["account.move.line", "account.move"];
  const size = (model: string) => estimate.get(tableOf(model)) ?? 0;
  const rank = (model: string) => {
    const i = fallback.indexOf(model);
    return i < 0 ? fallback.length : i;
  };
  return models
    .map((model, i) => ({ model, i, size: size(model), rank: rank(model) }))
    .sort((a, b) => b.size - a.size || a.rank - b.rank || a.i - b.i)
    .map((m) => m.model);
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/**
 * The pipeline: fetch the first page, then repeatedly start fetching the next page before writing
 * the current one (backpressure: never more than one page ahead).
 */
async function pipeline<P>(
  first: () => Promise<P>,
  nextOf: (page: P) => (() => Promise<P>) | null,
  write: (page: P) => Promise<void>,
): Promise<void> {
  let pending: Promise<P> | null = first();
  while (pending) {
    const page: P = await pending;
    const fetchNext = nextOf(page);
    pending = fetchNext ? fetchNext() : null;
    try {
      await write(page);
    } catch (error) {
      pending?.catch(() => {}); // the write's error wins; the prefetch is abandoned
      throw error;
    }
  }
}

export function createEngine(deps: EngineDeps) {
  const { db, settings } = deps;
  const reader = deps.reader ?? inProcessReader();

  const sourceFor = (signal: AbortSignal, log: Logger): Source => ({
    client: deps.odoo,
    signal,
    retry: {
      attempts: settings.retryAttempts,
      baseDelayMs: settings.retryBaseDelayMs,
      onRetry: ({ call, attempt, delayMs, error }) =>
        log.warn({ call, attempt, delayMs, err: errorText(error) }, "Odoo call failed, retrying"),
    },
  });

  /** Records with a value of an unexpected type: kept on the run (first 1000) and logged. */
  function report(task: ModelTask, problems: readonly Problem[]) {
    for (const p of problems) {
      if (task.problems.length < 1000) task.problems.push(p);
      task.log.error(p, "value of an unexpected type: record not written");
    }
  }

  /** Records through the transformer, straight to the upsert's column arrays; problems reported. */
  function transform(
    task: ModelTask,
    transformer: Transformer,
    records: Record<string, unknown>[],
  ): ArrayPage {
    return transformer.encode(records, (problems) => report(task, problems));
  }

  async function prepare(task: ModelTask): Promise<{
    resolved: ResolvedModel;
    transformer: Transformer;
    statement: string;
    copy: CopyStatements;
    request: PageRequest;
  }> {
    const spec = specOf(task.model);
    const meta = await fieldsGet(task.source, task.model);
    const resolved = resolveModel(spec, meta);
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
      limit: settings.pageSize,
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

  async function write(
    task: ModelTask,
    prepared: { statement: string; copy: CopyStatements },
    page: EncodedPage,
    cursor?: Parameters<typeof patchCursor>[2],
  ) {
    if (task.signal.aborted) throw task.signal.reason;
    const batch = { model: task.model, lease: task.lease, ...(cursor ? { cursor } : {}) };
    const changed =
      page.format === "copy"
        ? await copyBatch(deps.pool as Pool, db, { ...batch, statements: prepared.copy, page })
        : await writeBatch(db, { ...batch, statement: prepared.statement, page });
    // PostgreSQL has the page: its bytes go back to the reader for a later page.
    reader.recycle?.(page);
    task.counts.upserted += changed;
    task.run.update(task.model, { ...task.counts });
  }

  /** A model's cursor row, and whether a full pass of it is in progress (to resume). */
  async function cursorOf(model: string) {
    const cursor = await db
      .selectFrom("etl.cursors")
      .selectAll()
      .where("model", "=", model)
      .executeTakeFirst();
    const fullInProgress = cursor?.full_last_id !== null && cursor?.full_last_id !== undefined;
    return { cursor, fullInProgress };
  }

  /** Records by id, company-dependent fields read in each record's company (reconcile, sync-records). */
  async function readIds(task: ModelTask, prepared: Awaited<ReturnType<typeof prepare>>, ids: number[]) {
    const fields = prepared.resolved.columns.map((c) => c.name);
    const records = await read(task.source, task.model, ids, fields);
    await rereadPerCompany(task.source, task.model, records, prepared.resolved.perCompany);
    return records;
  }

  /** A full pass by id (resuming one in progress), then deletions are reconciled. */
  async function fullPass(task: ModelTask, prepared: Awaited<ReturnType<typeof prepare>>) {
    const { cursor, fullInProgress: resuming } = await cursorOf(task.model);
    let highWater: number | null =
      resuming && cursor?.full_high_water
        ? Math.floor(new Date(cursor.full_high_water).getTime() / 1000)
        : null;
    const startedAt = resuming && cursor?.full_started_at ? new Date(cursor.full_started_at) : new Date();
    const from = resuming ? (cursor?.full_last_id ?? 0) : 0;
    if (resuming) task.log.info({ afterId: from }, "resuming the full pass of a previous run");
    // Pages beyond every id the table holds go in with COPY (see load.ts).
    const copyAbove = deps.pool ? await tableMaxId(db, task.model) : Number.POSITIVE_INFINITY;
    const copyRequest: PageRequest = { ...prepared.request, copy: true };
    const fetchPage = (afterId: number) =>
      reader.full(afterId >= copyAbove ? copyRequest : prepared.request, afterId, task.source);
    const passStarted = performance.now();
    await pipeline(
      () => fetchPage(from),
      (last) => {
        const after = last.lastId;
        return last.done || after === null ? null : () => fetchPage(after);
      },
      async (page) => {
        task.counts.fetched += page.fetched;
        if (page.maxSecond !== null && (highWater === null || page.maxSecond > highWater))
          highWater = page.maxSecond;
        report(task, page.problems);
        if (page.lastId === null) return;
        await write(task, prepared, page.encoded, {
          full_last_id: page.lastId,
          full_high_water: highWater === null ? null : new Date(highWater * 1000),
          full_started_at: startedAt,
        });
      },
    );
    task.phaseMs.fullPass = Math.round(performance.now() - passStarted);
    // The pass is complete: the incremental cursor continues from the newest write_date it saw.
    await writeBatch(db, {
      model: task.model,
      statement: prepared.statement,
      page: EMPTY_PAGE,
      lease: task.lease,
      cursor: {
        ...(highWater !== null ? { write_date: new Date(highWater * 1000), last_id: null } : {}),
        full_last_id: null,
        full_high_water: null,
        full_started_at: null,
        last_full_at: new Date(),
        last_run_id: task.run.runId,
      },
    });
    // Records written while the pass ran (behind it, at ids already read) are caught up now, so a
    // full sync ends consistent on its own rather than at the next incremental.
    const caughtUpTo = highWater;
    if (caughtUpTo !== null) await timed(task, "catchUp", () => incremental(task, prepared, caughtUpTo));
    await timed(task, "reconcile", () => reconcile(task, prepared));
  }

  async function incremental(
    task: ModelTask,
    prepared: Awaited<ReturnType<typeof prepare>>,
    cursorSecond: number,
  ) {
    const start: Position = { second: cursorSecond - settings.overlapSeconds, afterId: null };
    await pipeline(
      () => reader.incremental(prepared.request, start, task.source),
      (page) => {
        const next = page.next;
        return page.done || !next ? null : () => reader.incremental(prepared.request, next, task.source);
      },
      async (page) => {
        task.counts.fetched += page.fetched;
        report(task, page.problems);
        if (page.lastId === null) return;
        await write(task, prepared, page.encoded, {
          ...(page.lastSecond !== null
            ? { write_date: new Date(page.lastSecond * 1000), last_id: page.lastId }
            : {}),
          last_run_id: task.run.runId,
        });
      },
    );
  }

  /**
   * Deletions: compare counts per id range (Odoo's search_count vs the live local rows), drilling
   * into ranges that differ until they are small enough to compare id by id. A deletion and an
   * unsynced create in one range would cancel out when the create's id is below the highest local
   * one (a late commit): callers sync first (the full pass's catch-up, the reconcile job's
   * incremental), so only a create committed while the counts run can still hide one, until the
   * next reconciliation. Local ids missing in Odoo are marked _deleted_at; Odoo ids missing locally
   * (or marked deleted) are read and upserted.
   */
  async function reconcile(task: ModelTask, prepared: Awaited<ReturnType<typeof prepare>>) {
    task.run.update(task.model, {}, true);
    // Ranges are counted over the ids held locally, then the ids above them apart: records created
    // since the last sync have the highest ids, and counted in one range with a deletion their +1
    // would cancel its -1.
    const localTop = (await localMaxId(db, task.model)) + 1;
    const remoteTop = (await maxId(task.source, task.model)) + 1;
    const visit = async (lo: number, hi: number): Promise<void> => {
      if (task.signal.aborted) throw task.signal.reason;
      const domain = [
        ["id", ">=", lo],
        ["id", "<", hi],
      ] as const;
      const [remote, local] = await Promise.all([
        searchCount(task.source, task.model, domain),
        localCount(db, task.model, lo, hi),
      ]);
      if (remote === local) return;
      if (hi - lo <= settings.reconcileLeafSize || remote + local <= settings.reconcileLeafSize) {
        const [remoteIds, localIdList] = await Promise.all([
          searchIds(task.source, task.model, domain),
          localIds(db, task.model, lo, hi),
        ]);
        const remoteSet = new Set(remoteIds);
        const localSet = new Set(localIdList);
        const gone = localIdList.filter((id) => !remoteSet.has(id));
        const absent = remoteIds.filter((id) => !localSet.has(id));
        task.counts.deleted += await markDeleted(db, task.model, gone, task.lease);
        for (let i = 0; i < absent.length; i += settings.pageSize) {
          const records = await readIds(task, prepared, absent.slice(i, i + settings.pageSize));
          task.counts.fetched += records.length;
          await write(task, prepared, transform(task, prepared.transformer, records));
        }
        task.run.update(task.model, { ...task.counts });
        return;
      }
      const parts = 8;
      const step = Math.ceil((hi - lo) / parts);
      for (let a = lo; a < hi; a += step) await visit(a, Math.min(hi, a + step));
    };
    const step = Math.max(1, Math.ceil(localTop / 16));
    for (let a = 0; a < localTop; a += step) await visit(a, Math.min(localTop, a + step));
    if (remoteTop > localTop) await visit(localTop, remoteTop);
    await patchCursor(db, task.model, { last_reconciled_at: new Date() });
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
   * The planner's statistics of a model's table, refreshed (ANALYZE) after a full pass, and after
   * any other run once the rows changed since the last ANALYZE pass autovacuum's own threshold (50
   * + 10 % of the table as last analyzed). Autovacuum gets there too, but a minute or more later,
   * or never where it is off; until then the API plans its reads over a table it believes empty.
   * Measured: the dashboard's open items over 500 000 freshly synced journal items ran for over 11
   * minutes on a nested loop, and in about a second once analyzed. A failure here is logged, not
   * the model's.
   */
  async function refreshStatistics(task: ModelTask, full: boolean): Promise<void> {
    const table = tableOf(task.model);
    try {
      if (!full) {
        const { rows } = await sql<{ tuples: string; changed: string | null }>`
          select greatest(c.reltuples, 0)::text as tuples, s.n_mod_since_analyze::text as changed
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          left join pg_stat_user_tables s on s.relid = c.oid
          where n.nspname = 'odoo' and c.relname = ${table}`.execute(db);
        const stat = rows[0];
        if (!stat) return;
        // This run's own writes count at once; PostgreSQL's counter adds earlier runs' (it lags a
        // little: each connection reports its writes when it next goes idle).
        const changed = Math.max(task.counts.upserted + task.counts.deleted, Number(stat.changed ?? 0));
        if (changed <= 50 + 0.1 * Number(stat.tuples)) return;
      }
      const started = performance.now();
      await sql`analyze ${sql.table(`odoo.${table}`)}`.execute(db);
      task.phaseMs.analyze = Math.round(performance.now() - started);
    } catch (error) {
      task.log.warn({ err: error }, "could not refresh the table's planner statistics (ANALYZE)");
    }
  }

  /** Runs one model under its lease; never throws (the outcome says what happened). */
  async function runModel(
    run: RunState,
    model: string,
    mode: "incremental" | "full" | null,
    work: (task: ModelTask, prepared: Awaited<ReturnType<typeof prepare>>) => Promise<void>,
  ): Promise<Outcome> {
    const log = run.job.logger.child({ model, runId: run.runId });
    const counts: ModelCounts = { fetched: 0, upserted: 0, deleted: 0 };
    const problems: Problem[] = [];
    const phaseMs: Record<string, number> = {};
    let missing: string[] = [];
    let lease: Lease | undefined;
    let stopKeepAlive = () => {};
    const abort = new AbortController();
    const onJobAbort = () => abort.abort(run.job.signal.reason);
    run.job.signal.addEventListener("abort", onJobAbort, { once: true });
    if (run.job.signal.aborted) abort.abort(run.job.signal.reason);
    try {
      lease = await acquire(db, model, run.runId, settings.lockTtlSeconds, abort.signal, (holder) =>
        log.info({ holder }, "model is being synced by another run: waiting for it"),
      );
      stopKeepAlive = keepAlive(db, lease, (error) => abort.abort(error));
      await markModelRunning(db, run.runId, model, mode ?? "incremental");
      run.update(model, { status: "running" }, true);
      const task: ModelTask = {
        run,
        model,
        lease,
        signal: abort.signal,
        source: sourceFor(abort.signal, log),
        counts,
        problems,
        log,
        phaseMs,
      };
      let prepared: Awaited<ReturnType<typeof prepare>>;
      try {
        prepared = await prepare(task);
      } catch (error) {
        const absence = specOf(model).optional ? absenceOf(error) : undefined;
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
          error: `skipped: ${model} is optional and ${absence}`,
        };
      }
      missing = prepared.resolved.missing;
      await work(task, prepared);
      await refreshStatistics(task, mode === "full");
      const status = problems.length ? "failed" : "succeeded";
      const error = problems.length
        ? `${problems.length} value(s) of an unexpected type, records not written: ` +
          problems
            .slice(0, 5)
            .map((p) => `${p.model} id ${p.id} field ${p.field}: expected ${p.expected}, got ${p.value}`)
            .join("; ")
        : undefined;
      // "Last success" is when the model was last brought up to date: a sync, not a few records
      // re-read by sync-records nor a deletion check.
      if (status === "succeeded" && mode !== null)
        await patchCursor(db, model, {
          last_success_at: new Date(),
          last_run_id: run.runId,
          absent_at: null,
        });
      log.info({ ...counts, missing: missing.length, problems: problems.length, phaseMs }, `model ${status}`);
      return { status, ...counts, missing, problems, error };
    } catch (error) {
      const reason = abort.signal.aborted && !(error instanceof LeaseLostError) ? abort.signal.reason : error;
      log.error({ err: reason, ...counts }, "model failed");
      return { status: "failed", ...counts, missing, problems, error: errorText(reason) };
    } finally {
      stopKeepAlive();
      run.job.signal.removeEventListener("abort", onJobAbort);
      if (lease)
        await release(db, lease).catch((error: unknown) =>
          log.warn({ err: error }, "could not release the lock"),
        );
    }
  }

  /** A run: history rows, models in parallel, the outcome recorded, the signal published. */
  async function execute(
    kind: JobKind,
    job: JobRun,
    models: string[],
    mode: "incremental" | "full" | null,
    requestedBy: string | undefined,
    work: (task: ModelTask, prepared: Awaited<ReturnType<typeof prepare>>) => Promise<void>,
  ): Promise<RunResult> {
    const started = Date.now();
    for (const model of models) specOf(model); // unknown models: fail before recording anything
    const runId = await createRun(db, {
      job: kind,
      jobId: job.jobId,
      attempt: job.attempt,
      mode,
      models,
      requestedBy,
    });
    // A retried (or stalled and restarted) job does not redo the models an earlier attempt finished.
    const skip = await succeededEarlier(db, job.jobId, runId);
    const run = new RunState(runId, job, models);
    run.progress.phase = "running";
    const outcomes = new Map<string, Outcome>();
    await pool(await largestFirst(db, models), settings.modelConcurrency, async (model) => {
      if (skip.has(model)) {
        const outcome: Outcome = {
          status: "succeeded",
          fetched: 0,
          upserted: 0,
          deleted: 0,
          missing: [],
          problems: [],
          error: "already done by an earlier attempt of this job",
        };
        outcomes.set(model, outcome);
        await finishModel(db, runId, model, { ...outcome, error: outcome.error });
        run.update(model, { status: "succeeded" });
        return;
      }
      const modelStarted = Date.now();
      const outcome = await runModel(run, model, mode, work);
      deps.metrics?.modelEnded({
        model,
        job: kind,
        mode,
        status: outcome.status,
        fetched: outcome.fetched,
        upserted: outcome.upserted,
        deleted: outcome.deleted,
        seconds: (Date.now() - modelStarted) / 1000,
      });
      outcomes.set(model, outcome);
      await finishModel(db, runId, model, outcome);
      run.update(
        model,
        {
          status: outcome.status,
          fetched: outcome.fetched,
          upserted: outcome.upserted,
          deleted: outcome.deleted,
        },
        true,
      );
    });
    const all = models.map((model) => ({ model, ...(outcomes.get(model) as Outcome) }));
    const failed = all.filter((o) => o.status === "failed");
    const totals = all.reduce(
      (t, o) => ({
        fetched: t.fetched + o.fetched,
        upserted: t.upserted + o.upserted,
        deleted: t.deleted + o.deleted,
      }),
      { fetched: 0, upserted: 0, deleted: 0 },
    );
    const status = failed.length ? "failed" : "succeeded";
    const error = failed.length ? failed.map((o) => `${o.model}: ${o.error}`).join("\n") : undefined;
    await finishRun(db, runId, { status, ...totals, error });
    run.progress.phase = status;
    run.update(models[0] ?? "", {}, true);
    await publish(runId, kind, all);
    job.logger.info({ runId, status, ...totals, ms: Date.now() - started }, `run ${status}`);
    return {
      runId,
      status,
      ms: Date.now() - started,
      models: all.map((o) => ({
        model: o.model,
        status: o.status,
        fetched: o.fetched,
        upserted: o.upserted,
        deleted: o.deleted,
        missingFields: o.missing,
        ...(o.error ? { error: o.error } : {}),
      })),
    };
  }

  async function publish(runId: number, job: JobKind, outcomes: ({ model: string } & ModelCounts)[]) {
    const changed = outcomes.filter((o) => o.upserted + o.deleted > 0);
    if (!deps.publisher || changed.length === 0) return;
    const message: DataChanged = {
      runId,
      job,
      models: changed.map((o) => o.model),
      tables: changed.map((o) => odooTableName(o.model)),
      counts: Object.fromEntries(changed.map((o) => [o.model, { upserted: o.upserted, deleted: o.deleted }])),
      at: new Date().toISOString(),
    };
    try {
      await deps.publisher.publish(dataChangedChannel(deps.queuePrefix), JSON.stringify(message));
    } catch (error) {
      deps.logger.warn({ err: error, runId }, "could not publish the data-changed signal");
    }
  }

  return {
    /** `sync`: incremental (default) or full, over `models`. */
    sync(job: JobRun, models: string[], mode: "incremental" | "full", requestedBy?: string) {
      return execute("sync", job, models, mode, requestedBy, async (task, prepared) => {
        const { cursor, fullInProgress } = await cursorOf(task.model);
        if (mode === "full" || fullInProgress || !cursor?.write_date) {
          await fullPass(task, prepared);
        } else {
          await incremental(task, prepared, Math.floor(new Date(cursor.write_date).getTime() / 1000));
        }
      });
    },
    /**
     * `reconcile-deletions` over `models`. A model already synced is first caught up incrementally:
     * a create not yet synced whose id is below the highest local one (a late commit, or a record
     * `sync-records` brought ahead of its elders) would otherwise cancel out a deletion counted in
     * the same id range.
     */
    reconcileDeletions(job: JobRun, models: string[], requestedBy?: string) {
      return execute("reconcile-deletions", job, models, null, requestedBy, async (task, prepared) => {
        const { cursor, fullInProgress } = await cursorOf(task.model);
        if (cursor?.write_date && !fullInProgress) {
          const second = Math.floor(new Date(cursor.write_date).getTime() / 1000);
          await timed(task, "catchUp", () => incremental(task, prepared, second));
        }
        await reconcile(task, prepared);
      });
    },
    /** `sync-records`: read these ids now; the ones Odoo no longer has are marked deleted. */
    syncRecords(job: JobRun, model: string, ids: number[], requestedBy?: string) {
      return execute("sync-records", job, [model], null, requestedBy, async (task, prepared) => {
        const unique = [...new Set(ids)];
        const records = await readIds(task, prepared, unique);
        task.counts.fetched += records.length;
        await write(task, prepared, transform(task, prepared.transformer, records));
        const found = new Set(records.map((r) => r.id));
        task.counts.deleted += await markDeleted(
          db,
          model,
          unique.filter((id) => !found.has(id)),
          task.lease,
        );
      });
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
