import { odooTableName, type RunStatus } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";

/*
 * Reads of the ETL's bookkeeping (schema `etl`, written by etl-worker): run history, per-model
 * results and cursors. The web-api only reads them.
 */

type Db = Kysely<Database>;

/** Id of the latest run that finished, or null: the read cache's starting generation. */
export async function latestFinishedRun(db: Db): Promise<string | null> {
  const row = await db
    .selectFrom("etl.runs")
    .select(["id", "finished_at"])
    .where("finished_at", "is not", null)
    .orderBy("finished_at", "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? `${row.id}-${new Date(row.finished_at as Date).getTime()}` : null;
}

const iso = (value: Date | string | null | undefined): string | null =>
  value ? new Date(value).toISOString() : null;

export type RunRow = Awaited<ReturnType<typeof findRuns>>[number];

const runColumns = [
  "id",
  "job",
  "job_id",
  "attempt",
  "mode",
  "models",
  "status",
  "requested_by",
  "fetched",
  "upserted",
  "deleted",
  "error",
  "created_at",
  "started_at",
  "finished_at",
] as const;

export async function findRuns(db: Db, where: { id?: number; jobId?: string }) {
  let query = db.selectFrom("etl.runs").select(runColumns).orderBy("attempt", "desc").orderBy("id", "desc");
  if (where.id !== undefined) query = query.where("id", "=", where.id);
  if (where.jobId !== undefined) query = query.where("job_id", "=", where.jobId);
  return query.limit(20).execute();
}

export async function runModels(db: Db, runId: number) {
  const rows = await db
    .selectFrom("etl.run_models")
    .select(["model", "status", "fetched", "upserted", "deleted", "error", "started_at", "finished_at"])
    .where("run_id", "=", runId)
    .orderBy("model")
    .execute();
  return rows.map((r) => ({
    model: r.model,
    status: r.status,
    fetched: r.fetched,
    upserted: r.upserted,
    deleted: r.deleted,
    error: r.error,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  }));
}

export const runSummary = (r: RunRow) => ({
  id: r.job_id ?? String(r.id),
  runNumber: r.id,
  job: r.job,
  status: r.status,
  mode: r.mode ?? "incremental",
  models: r.models,
  requestedBy: r.requested_by,
  fetched: r.fetched,
  upserted: r.upserted,
  deleted: r.deleted,
  createdAt: iso(r.created_at),
  startedAt: iso(r.started_at),
  finishedAt: iso(r.finished_at),
  error: r.error,
});

/** Run history, newest first, keyset on id. */
export async function listRuns(db: Db, options: { limit: number; beforeId?: number; status?: RunStatus }) {
  let query = db
    .selectFrom("etl.runs")
    .select(runColumns)
    .orderBy("id", "desc")
    .limit(options.limit + 1);
  if (options.beforeId !== undefined) query = query.where("id", "<", options.beforeId);
  if (options.status) query = query.where("status", "=", options.status);
  return query.execute();
}

/**
 * Per model: its cursor, last success, live rows and lag. The rows are PostgreSQL's estimate, not a
 * count: counting every synced table on each call read millions of rows and held a connection for
 * seconds per request, so a few callers could exhaust the pool. The estimate is the table's row
 * count as of its last ANALYZE (`reltuples`; exact for tables of up to 30 000 rows and close for
 * larger ones, refreshed by the ETL after a full sync and once a tenth of a table changed, and by
 * autovacuum), or the statistics collector's live tuples before any ANALYZE, times the share of
 * rows not soft-deleted that ANALYZE saw (`null_frac` of `_deleted_at`).
 */
export async function syncState(db: Db) {
  const cursors = await db.selectFrom("etl.cursors").selectAll().orderBy("model").execute();
  const { rows: estimates } = await sql<{ table: string; rows: number }>`
    select c.relname as table,
      round(
        (case when c.reltuples >= 0 then c.reltuples else coalesce(s.n_live_tup, 0) end)
        * coalesce(st.null_frac, 1)
      )::float8 as rows
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_stat_user_tables s on s.relid = c.oid
    left join pg_stats st on st.schemaname = n.nspname and st.tablename = c.relname
      and st.attname = '_deleted_at'
    where n.nspname = 'odoo' and c.relkind in ('r', 'p')`.execute(db);
  const rowsOf = new Map(estimates.map((e) => [e.table, Math.max(0, Number(e.rows))]));
  const now = Date.now();
  return cursors.map((c) => {
    const lastSuccess = c.last_success_at ? new Date(c.last_success_at) : null;
    return {
      model: c.model,
      cursor: c.write_date || c.last_id !== null ? { writeDate: iso(c.write_date), id: c.last_id } : null,
      lastSuccessAt: lastSuccess ? lastSuccess.toISOString() : null,
      rows: rowsOf.get(odooTableName(c.model).slice("odoo.".length)) ?? 0,
      lagSeconds: lastSuccess ? Math.max(0, Math.round((now - lastSuccess.getTime()) / 1000)) : null,
      absentAt: c.absent_at ? new Date(c.absent_at).toISOString() : null,
    };
  });
}

/** Models the ETL has a table for (the registry as deployed), from `odoo` schema's tables. */
export async function knownModels(db: Db): Promise<Set<string>> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = 'odoo'`.execute(db);
  return new Set(rows.map((r) => r.table_name));
}
