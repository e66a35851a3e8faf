import { createHash, randomUUID } from "node:crypto";
import type { ReportKind, ReportStatus } from "@finanzas/contracts";
import { countActiveUnderUserLock, type Database, type Selectable, sql } from "@finanzas/db";
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

/** Whether other records still point at a stored file (a reused report shares its file). */
export async function fileStillUsed(db: Db, storageKey: string, exceptId: string): Promise<boolean> {
  const other = await db
    .selectFrom("reports.reports")
    .select("id")
    .where("storage_key", "=", storageKey)
    .where("id", "!=", exceptId)
    .executeTakeFirst();
  return other !== undefined;
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
