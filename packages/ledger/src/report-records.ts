import { createHash, randomUUID } from "node:crypto";
import type { ReportKind, ReportStatus } from "@finanzas/contracts";
import { countActiveUnderUserLock, type Database, type Selectable, sql } from "@finanzas/db";
import { OPEN_ITEM_SOURCES } from "./queries/open-items.js";
import type { Db } from "./sql.js";

/*
 * The report records (reports.reports) as the services that ask for reports see them: the web-api
 * for its users, the mailer for the statements it attaches. A report is built by the report-worker
 * from the synced copy; an identical request (same kind, parameters and caller's scope) made while
 * the synced data is unchanged since a stored file was built gets that file again, at once.
 */

export type ReportRecord = Selectable<Database["reports.reports"]>;

/** JSON with object keys sorted, so that the same parameters always give the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What makes two requests the same: the kind, the parameters and the scope of data the caller may
 * read (every role reads every company today: "all").
 */
export const reportRequestKey = (kind: ReportKind, params: unknown, scope = "all"): string =>
  createHash("sha256").update(canonicalJson({ kind, params, scope })).digest("hex");

/**
 * The state of the synced copy a file is built from: the end of the latest sync run that wrote
 * anything. null while a sync is running (it commits as it goes: nothing built now can be reused)
 * or before any sync.
 */
export async function syncedDataVersion(db: Db): Promise<string | null> {
  const { rows } = await sql<{ active: boolean; latest: string | null }>`select
      exists (select 1 from etl.runs where status in ('queued', 'running') and started_at is not null) as active,
      (select max(finished_at)::text from etl.runs where upserted > 0 or deleted > 0) as latest`.execute(db);
  const row = rows[0];
  if (!row || row.active) return null;
  return row.latest ?? "never";
}

/**
 * The Odoo models each kind of report reads. A report built before all of them have finished their
 * first sync would be built from part of the books (a general ledger from the journal items copied
 * so far): wrong figures that look right.
 */
const COMPANIES = ["res.company", "res.currency"] as const;

export const REPORT_SOURCES: { readonly [K in ReportKind]: readonly string[] } = {
  "general-ledger": [...COMPANIES, "res.partner", "account.account", "account.journal", "account.move.line"],
  "trial-balance": [...COMPANIES, "account.account", "account.move.line"],
  "invoice-register": [...COMPANIES, "res.partner", "account.account", "account.move", "account.move.line"],
  "aged-balance": [...COMPANIES, "res.partner", ...OPEN_ITEM_SOURCES],
  "partner-statement": [...COMPANIES, "res.partner", ...OPEN_ITEM_SOURCES],
};

/** The caller has as many reports queued or running as they may (REPORT_MAX_ACTIVE_PER_USER). */
export class TooManyActiveReportsError extends Error {
  constructor(
    readonly active: number,
    readonly max: number,
  ) {
    super(`${active} reports queued or running, at most ${max} at once`);
    this.name = "TooManyActiveReportsError";
  }
}

export interface NewReport {
  kind: ReportKind;
  params: Record<string, unknown>;
  requestedBy: string | null;
  fileName: string;
  scope?: string;
}

/**
 * Records a request. Reuses, when the synced data is unchanged since it was built, a stored file of
 * an identical request (a new record of the caller's pointing at the same file, already
 * `succeeded`), and returns the caller's own identical request still queued or running instead of
 * a second one. `created` says whether a build must be enqueued.
 */
export async function requestReport(
  db: Db,
  request: NewReport,
  now = new Date(),
  limits: { maxActivePerUser?: number } = {},
): Promise<{ report: ReportRecord; created: boolean; reused: boolean }> {
  const key = reportRequestKey(request.kind, request.params, request.scope);
  return db.transaction().execute(async (trx) => {
    const max = limits.maxActivePerUser;
    if (max !== undefined && request.requestedBy !== null) {
      // The count and the insert under one per-user lock (taken before the key's, always in that
      // order): concurrent requests of one user cannot each see room for one more.
      const active = await countActiveUnderUserLock(trx, "reports.reports", request.requestedBy, [
        "queued",
        "running",
      ]);
      if (active >= max) throw new TooManyActiveReportsError(active, max);
    }
    // one request at a time per key, so two identical requests at once do not both build
    await sql`select pg_advisory_xact_lock(hashtext(${key}))`.execute(trx);
    const pending = await trx
      .selectFrom("reports.reports")
      .selectAll()
      .where("request_key", "=", key)
      .where("status", "in", ["queued", "running"])
      .where((eb) =>
        request.requestedBy === null
          ? eb("requested_by", "is", null)
          : eb("requested_by", "=", request.requestedBy),
      )
      .orderBy("created_at", "desc")
      .executeTakeFirst();
    if (pending) return { report: pending, created: false, reused: true };
    const version = await syncedDataVersion(trx);
    const built =
      version === null
        ? undefined
        : await trx
            .selectFrom("reports.reports")
            .selectAll()
            .where("request_key", "=", key)
            .where("status", "=", "succeeded")
            .where("data_version", "=", version)
            .where("storage_key", "is not", null)
            .where("expires_at", ">", now)
            .orderBy("finished_at", "desc")
            .executeTakeFirst();
    const id = randomUUID();
    const report = await trx
      .insertInto("reports.reports")
      .values({
        id,
        kind: request.kind,
        params: JSON.stringify(request.params),
        request_key: key,
        requested_by: request.requestedBy,
        file_name: request.fileName,
        ...(built
          ? {
              status: "succeeded" satisfies ReportStatus,
              progress: 100,
              rows: built.rows,
              bytes: built.bytes,
              storage_key: built.storage_key,
              checksum: built.checksum,
              data_version: built.data_version,
              started_at: now,
              finished_at: now,
              expires_at: built.expires_at,
            }
          : { status: "queued" satisfies ReportStatus }),
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { report, created: !built, reused: !!built };
  });
}

/** What deleting a queued file needs of the report store (@finanzas/storage's Storage has it). */
export interface FileStore {
  delete(key: string): Promise<void>;
}

/**
 * Queues for deletion from the store the files of `keys` that no report record points at any more
 * (reports.file_deletions): run in the transaction that deleted the records, so a record never goes
 * without its file being either still used or queued. Returns the keys queued (or already queued).
 */
export async function queueUnusedFiles(db: Db, keys: readonly string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const { rows } = await sql<{ key: string }>`
    with unused as (
      select distinct k as key from unnest(${[...keys]}::text[]) as k
       where not exists (select 1 from reports.reports r where r.storage_key = k)),
    queued as (
      insert into reports.file_deletions (storage_key) select key from unused
      on conflict (storage_key) do nothing)
    select key from unused order by key`.execute(db);
  return rows.map((r) => r.key);
}

export interface QueuedFilesOutcome {
  /** Files the store deleted (or no longer had). */
  deleted: number;
  /** Keys dropped from the queue because a record points at them again (a reused report). */
  reused: number;
  /** Files the store could not delete: they stay queued, with the error and their attempts. */
  failed: { key: string; error: string; attempts: number }[];
}

/**
 * Deletes queued report files from the store: `keys`, or `limit` of the queue (default 1 000), those
 * never tried first, then the least recently tried.
 * A key leaves the queue once the store has deleted its file, or at once if a record points at it
 * again; a store that fails (unreachable, refusing) leaves it queued, its attempts counted and its
 * last error kept, for the next cleanup to try again. After 3 failures in a row the rest are left
 * untried: a store that is down would fail each of them the same way, each after its own retries.
 */
export async function deleteQueuedFiles(
  db: Db,
  store: FileStore,
  options: { keys?: readonly string[]; limit?: number } = {},
): Promise<QueuedFilesOutcome> {
  const keys =
    options.keys ??
    (
      await db
        .selectFrom("reports.file_deletions")
        .select("storage_key")
        // never tried first, then the least recently tried: keys a store keeps refusing do not
        // hold up the others
        .orderBy(sql`last_attempt_at asc nulls first`)
        .orderBy("queued_at")
        .orderBy("storage_key")
        .limit(options.limit ?? 1_000)
        .execute()
    ).map((r) => r.storage_key);
  const outcome: QueuedFilesOutcome = { deleted: 0, reused: 0, failed: [] };
  let failuresInARow = 0;
  for (const key of keys) {
    if (failuresInARow >= 3) break;
    // only a queued key is deleted: one another caller has already dealt with, or that was never
    // queued because a record uses it (a build that lost the race to mark its report done), is not
    const {
      rows: [state],
    } = await sql<{ queued: boolean; used: boolean }>`
      select exists (select 1 from reports.file_deletions d where d.storage_key = ${key}) as queued,
             exists (select 1 from reports.reports r where r.storage_key = ${key}) as used`.execute(db);
    if (!state?.queued) continue;
    if (state.used) {
      await db.deleteFrom("reports.file_deletions").where("storage_key", "=", key).execute();
      outcome.reused++;
      continue;
    }
    try {
      await store.delete(key);
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const row = await db
        .updateTable("reports.file_deletions")
        .set((eb) => ({
          attempts: eb("attempts", "+", 1),
          last_error: text.slice(0, 2_000),
          last_attempt_at: new Date(),
        }))
        .where("storage_key", "=", key)
        .returning("attempts")
        .executeTakeFirst();
      outcome.failed.push({ key, error: text, attempts: row?.attempts ?? 1 });
      failuresInARow++;
      continue;
    }
    failuresInARow = 0;
    await db.deleteFrom("reports.file_deletions").where("storage_key", "=", key).execute();
    outcome.deleted++;
  }
  return outcome;
}

/**
 * A request's parameters as stored and compared: dates a report defaults to today are fixed to
 * the day of the request, so that "as of today" asked tomorrow is another report.
 */
export function normalizeReportParams<K extends ReportKind>(
  kind: K,
  params: Record<string, unknown>,
  day: string,
): Record<string, unknown> {
  const fixed = { ...params };
  if (kind === "aged-balance" && fixed.asOf === undefined) fixed.asOf = day;
  if (kind === "partner-statement" && fixed.asOf === undefined) fixed.asOf = day;
  for (const key of ["partnerIds", "accountIds", "journalIds"]) {
    const ids = fixed[key];
    if (Array.isArray(ids)) fixed[key] = [...ids].sort((a, b) => Number(a) - Number(b));
  }
  return fixed;
}

/** The name a report's file is offered under: `aged-receivables-2024-12-31.xlsx`. */
export function reportFileName(kind: ReportKind, params: Record<string, unknown>, day: string): string {
  const p = params as Record<string, string | number | undefined>;
  const name = (() => {
    switch (kind) {
      case "aged-balance":
        return `aged-${p.type === "payable" ? "payables" : "receivables"}-${p.asOf ?? day}`;
      case "general-ledger":
        return `general-ledger-${p.dateFrom}-to-${p.dateTo}`;
      case "trial-balance":
        return `trial-balance-${p.dateFrom}-to-${p.dateTo}`;
      case "invoice-register":
        return `invoice-register-${day}`;
      case "partner-statement":
        return `statement-${p.partnerId}-${p.asOf ?? day}`;
    }
  })();
  return `${name}.xlsx`;
}
