import {
  REPORT_PARAMS,
  type Report,
  type ReportKind,
  type ReportListQuery,
  type ReportStatus,
  type reportsQueue,
} from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import {
  deleteQueuedFiles,
  normalizeReportParams,
  queueUnusedFiles,
  type ReportRecord,
  reportFileName,
  requestReport,
  TooManyActiveReportsError,
  today,
} from "@finanzas/ledger";
import type { Producer } from "@finanzas/queue";
import { contentDisposition, type Storage } from "@finanzas/storage";
import type { Static } from "@sinclair/typebox";
import type { AppInstance, AuthUser } from "../app-types.js";
import { HttpProblem } from "../problem.js";
import { fieldErrors } from "../validation.js";
import { type MountDeps, mount } from "./mount.js";

export const XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

export interface ReportRouteDeps extends MountDeps {
  db: Kysely<Database>;
  reports: Producer<typeof reportsQueue>;
  storage: Storage;
  /** Reports one user may have queued or running at once (REPORT_MAX_ACTIVE_PER_USER). */
  maxActivePerUser: number;
  /** Lifetime of a presigned download URL of the object store (s). */
  downloadUrlSeconds: number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toReport(r: ReportRecord): Static<typeof Report> {
  return {
    id: r.id,
    kind: r.kind as ReportKind,
    params: r.params,
    status: r.status as ReportStatus,
    progress: r.progress,
    rows: r.rows,
    bytes: r.bytes,
    fileName: r.file_name,
    requestedBy: r.requested_by,
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    expiresAt: iso(r.expires_at),
    error: r.error,
    checksum: r.checksum,
    downloadUrl: r.status === "succeeded" && r.storage_key ? `/api/v1/reports/${r.id}/file` : null,
  };
}

/** The list's cursor: the last row's creation time and id, base64url JSON. */
const encodeCursor = (r: ReportRecord) =>
  Buffer.from(JSON.stringify([r.created_at.toISOString(), r.id])).toString("base64url");
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
    const createdAt = new Date(at);
    if (typeof id === "string" && /^[0-9a-f-]{36}$/.test(id) && !Number.isNaN(createdAt.getTime())) {
      return { createdAt, id };
    }
  } catch {
    // falls through to the 400
  }
  throw new HttpProblem(400, "invalid cursor", [
    { field: "query.cursor", message: "is not a cursor this API returned" },
  ]);
}

/**
 * Excel reports: requested here, built by the report-worker (queue `reports`), downloaded here.
 * Every role may request reports over the data it may read; a user sees only its own reports,
 * admins everyone's; another user's report is a 404, as if it did not exist.
 */
export async function reportRoutes(app: AppInstance, deps: ReportRouteDeps): Promise<void> {
  const { db, reports, storage } = deps;

  const visible = async (id: string, user: AuthUser | null): Promise<ReportRecord> => {
    const report = await db.selectFrom("reports.reports").selectAll().where("id", "=", id).executeTakeFirst();
    if (!report || (user?.role !== "admin" && report.requested_by !== user?.id)) {
      throw new HttpProblem(404, `no report with id ${id}`);
    }
    return report;
  };

  mount(app, deps, "createReport", async ({ body, user }) => {
    const kind = body.kind;
    const errors = fieldErrors(REPORT_PARAMS[kind], body.params, "body.params");
    const params = body.params as Record<string, unknown>;
    for (const [from, to] of [
      ["dateFrom", "dateTo"],
      ["invoiceDateFrom", "invoiceDateTo"],
      ["dueDateFrom", "dueDateTo"],
    ] as const) {
      const a = params[from];
      const b = params[to];
      if (typeof a === "string" && typeof b === "string" && a > b) {
        errors.push({ field: `body.params.${from}`, message: `must not be after ${to}` });
      }
    }
    if (errors.length) {
      throw new HttpProblem(
        400,
        `invalid report parameters: ${errors.map((e) => `${e.field} ${e.message}`).join("; ")}`,
        errors,
      );
    }
    const day = today();
    const normalized = normalizeReportParams(kind, params, day);
    const { report, created, reused } = await requestReport(
      db,
      { kind, params: normalized, requestedBy: user!.id, fileName: reportFileName(kind, normalized, day) },
      new Date(),
      { maxActivePerUser: deps.maxActivePerUser },
    ).catch((error: unknown) => {
      if (!(error instanceof TooManyActiveReportsError)) throw error;
      throw new HttpProblem(
        429,
        `you have ${error.active} reports queued or running (at most ${error.max} at once): wait for one to finish, or cancel one (DELETE /api/v1/reports/:id)`,
      );
    });
    if (created) {
      try {
        await reports.add("build-report", { reportId: report.id }, { jobId: report.id });
      } catch (error) {
        // never leave a record that no job will build
        await db.deleteFrom("reports.reports").where("id", "=", report.id).execute();
        throw error;
      }
    }
    return { reportId: report.id, status: report.status as ReportStatus, reused };
  });

  mount(app, deps, "listReports", async ({ query, user }) => {
    const q: Static<typeof ReportListQuery> = query;
    const limit = q.limit ?? 50;
    let select = db.selectFrom("reports.reports").selectAll();
    if (user?.role !== "admin") select = select.where("requested_by", "=", user!.id);
    if (q.status) select = select.where("status", "=", q.status);
    if (q.kind) select = select.where("kind", "=", q.kind);
    if (q.cursor) {
      const after = decodeCursor(q.cursor);
      select = select.where((eb) =>
        eb.or([
          eb("created_at", "<", after.createdAt),
          eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)]),
        ]),
      );
    }
    const found = await select
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit + 1)
      .execute();
    const more = found.length > limit;
    const page = more ? found.slice(0, limit) : found;
    return { items: page.map(toReport), next: more ? encodeCursor(page.at(-1)!) : null };
  });

  mount(app, deps, "getReport", async ({ params, user }) => toReport(await visible(params.id, user)));

  mount(app, deps, "downloadReport", async ({ params, user, reply }) => {
    const report = await visible(params.id, user);
    if (report.status !== "succeeded" || !report.storage_key) {
      throw new HttpProblem(
        409,
        `report ${report.id} is ${report.status}${report.status === "running" ? ` (${report.rows} rows so far)` : ""}: its file is there once it has succeeded`,
      );
    }
    if (report.expires_at && report.expires_at <= new Date()) {
      throw new HttpProblem(
        410,
        `report ${report.id} expired at ${report.expires_at.toISOString()}: request it again`,
      );
    }
    const url = await storage.downloadUrl(report.storage_key, {
      fileName: report.file_name,
      contentType: XLSX_CONTENT_TYPE,
      expiresInSeconds: deps.downloadUrlSeconds,
    });
    if (url) return reply.redirect(url, 302) as never;
    const file = await storage.get(report.storage_key);
    if (!file) throw new HttpProblem(410, `the file of report ${report.id} is gone: request it again`);
    return reply
      .code(200)
      .type(XLSX_CONTENT_TYPE)
      .header("content-disposition", contentDisposition(report.file_name))
      .header("content-length", String(file.bytes))
      .header("cache-control", "private, no-store")
      .send(file.body) as never;
  });

  mount(app, deps, "deleteReport", async ({ params, user, request }) => {
    const report = await visible(params.id, user);
    if (report.status === "queued" || report.status === "running") {
      // the worker stops at its next batch and drops the file; a job not started yet never builds
      await db
        .updateTable("reports.reports")
        .set({
          cancel_requested_at: new Date(),
          ...(report.status === "queued" ? { status: "cancelled", finished_at: new Date() } : {}),
        })
        .where("id", "=", report.id)
        .execute();
      if (report.status === "queued") await reports.queue.remove(report.id).catch(() => 0);
      return null;
    }
    // The record goes and its file is queued in one transaction (unless a reused report still
    // points at it), then deleted from the store. A store that cannot be reached leaves the file
    // queued for the scheduled cleanup: the report is deleted all the same, the answer says so, and
    // a file-store outage is never reported as the database's.
    const queued = await db.transaction().execute(async (trx) => {
      await trx.deleteFrom("reports.reports").where("id", "=", report.id).execute();
      return queueUnusedFiles(trx, report.storage_key ? [report.storage_key] : []);
    });
    if (queued.length) {
      const { failed } = await deleteQueuedFiles(db, storage, { keys: queued });
      for (const f of failed)
        request.log.warn(
          { reportId: report.id, storageKey: f.key, error: f.error },
          "report deleted; its file could not be deleted from the store and stays queued for the cleanup",
        );
    }
    return null;
  });
}
