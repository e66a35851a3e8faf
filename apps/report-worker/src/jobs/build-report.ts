import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ReportKind, type ReportStatus, reportsQueue } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import {
  deleteQueuedFiles,
  firstSyncPending,
  LedgerError,
  NotSyncedError,
  queueUnusedFiles,
  REPORT_SOURCES,
} from "@finanzas/ledger";
import type { Handler } from "@finanzas/queue";
import { RunLater, UnrecoverableError } from "@finanzas/queue";
import type { Storage } from "@finanzas/storage";
import { BuildThreadError, buildInThread } from "./build-in-thread.js";

export const XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

export interface BuildDeps {
  db: Kysely<Database>;
  /** The same database's URL: each workbook is built on a thread with its own connection. */
  databaseUrl: string;
  storage: Storage;
  /** Hours a finished file is kept (REPORT_TTL_HOURS). */
  ttlHours: number;
  statementTimeoutMs: number;
  /** Rows per sheet before a continuation sheet; Excel's limit unless a test sets less. */
  maxRowsPerSheet?: number;
  /** How often progress reaches the job and the record, and cancellation is checked (ms). */
  progressEveryMs?: number;
  /** Rows fetched from a cursor at once (default 2 000). */
  batchSize?: number;
  /** How often a report waiting for the first sync of what it reads looks again (default 15 s). */
  firstSyncRecheckMs?: number;
}

const TEMP_PREFIX = "finanzas-report-";

/**
 * Removes the temporary files of builds that died with their worker (SIGKILL, OOM) more than a day
 * ago; a build in progress on another worker of this host is younger than that.
 */
export async function sweepTempFiles(olderThanMs = 24 * 3_600_000): Promise<number> {
  let removed = 0;
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const path = join(tmpdir(), name);
    const info = await stat(path).catch(() => undefined);
    if (!info || Date.now() - info.mtimeMs < olderThanMs) continue;
    await rm(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** The report was cancelled while it was being built: its file is dropped. */
class Cancelled extends Error {}

/** Where a report's file is stored: by month, under its id. */
export const storageKeyOf = (id: string, at: Date) =>
  `reports/${at.toISOString().slice(0, 4)}/${at.toISOString().slice(5, 7)}/${id}.xlsx`;

/**
 * `build-report`: builds a report record's workbook from one snapshot of the synced copy into a
 * temporary file (streamed, on a thread of its own with a bounded heap: build-in-thread.ts), stores
 * it (the object appears only once whole), and only then marks the record succeeded. A build that
 * dies half way leaves nothing marked done; BullMQ runs it again from the top. A cancelled report
 * stops at its next progress tick (every `progressEveryMs`, after a batch of rows).
 */
export const buildReportHandler =
  (deps: BuildDeps): Handler<typeof reportsQueue, "build-report"> =>
  async ({ reportId }, ctx) => {
    const { db } = deps;
    const record = await db
      .selectFrom("reports.reports")
      .selectAll()
      .where("id", "=", reportId)
      .executeTakeFirst();
    if (!record) throw new UnrecoverableError(`no report ${reportId}: it was deleted`);
    const result = (status: ReportStatus, rows = record.rows) => ({
      reportId,
      status,
      rows,
      bytes: record.bytes,
      storageKey: record.storage_key,
    });
    if (record.status === "succeeded" || record.status === "failed" || record.status === "cancelled") {
      return result(record.status as ReportStatus);
    }
    // Built before the first sync of what it reads has finished, a report would show part of the
    // books. It waits in the queue instead, saying why, without using an attempt: a first sync of a
    // large Odoo takes longer than the retries' backoff.
    const pending = record.cancel_requested_at
      ? []
      : await firstSyncPending(db, REPORT_SOURCES[record.kind as ReportKind]);
    if (pending.length) {
      const reason = `waiting for the first sync of ${pending.join(", ")} to finish (GET /api/v1/sync/state): the report is built once it has`;
      await db
        .updateTable("reports.reports")
        .set({ status: "queued", error: reason })
        .where("id", "=", reportId)
        .where("status", "in", ["queued", "running"])
        .execute();
      throw new RunLater(deps.firstSyncRecheckMs ?? 15_000, reason);
    }
    const started = await db
      .updateTable("reports.reports")
      .set((eb) => ({
        status: "running",
        started_at: new Date(),
        attempts: eb("attempts", "+", 1),
        progress: 0,
        rows: 0,
        error: null,
      }))
      .where("id", "=", reportId)
      .where("status", "in", ["queued", "running"])
      .where("cancel_requested_at", "is", null)
      .executeTakeFirst();
    if (Number(started.numUpdatedRows) === 0) {
      await markCancelled(db, reportId);
      return result("cancelled");
    }
    const dir = await mkdtemp(join(tmpdir(), TEMP_PREFIX));
    const file = join(dir, `${reportId}.xlsx`);
    try {
      const built = await buildInThread(
        {
          databaseUrl: deps.databaseUrl,
          job: {
            kind: record.kind as ReportKind,
            params: record.params,
            requestedAt: record.created_at,
            file,
            statementTimeoutMs: deps.statementTimeoutMs,
            maxRowsPerSheet: deps.maxRowsPerSheet,
            batchSize: deps.batchSize,
          },
          progressEveryMs: deps.progressEveryMs ?? 1_000,
        },
        {
          signal: ctx.signal,
          async progress(rows) {
            // The job's progress is for the queue dashboard only (the record's `rows` is the truth):
            // never waited for, so a Redis that is down or lost the job does not stop the build.
            ctx.progress({ rows }).catch(() => {});
            const now = await db
              .updateTable("reports.reports")
              .set({ rows })
              .where("id", "=", reportId)
              .returning("cancel_requested_at")
              .executeTakeFirst();
            if (!now || now.cancel_requested_at) throw new Cancelled();
          },
        },
      );
      const key = storageKeyOf(reportId, record.created_at);
      const stored = await deps.storage.put(key, createReadStream(file), {
        contentType: XLSX_CONTENT_TYPE,
        signal: ctx.signal,
      });
      const done = await db
        .updateTable("reports.reports")
        .set({
          status: "succeeded",
          progress: 100,
          rows: built.rows,
          bytes: stored.bytes,
          checksum: stored.sha256,
          storage_key: key,
          data_version: built.dataVersion,
          finished_at: new Date(),
          expires_at: new Date(Date.now() + deps.ttlHours * 3_600_000),
        })
        .where("id", "=", reportId)
        .where("status", "=", "running")
        .where("cancel_requested_at", "is", null)
        .executeTakeFirst();
      if (Number(done.numUpdatedRows) === 0) {
        // cancelled (or deleted) in the last instant: the file is nobody's; a store that cannot
        // delete it now leaves it queued for the cleanup
        await queueUnusedFiles(db, [key]);
        const { failed } = await deleteQueuedFiles(db, deps.storage, { keys: [key] });
        if (failed.length)
          ctx.logger.warn(
            { reportId, storageKey: key, error: failed[0]!.error },
            "the file of a cancelled report stays queued for deletion: the store did not delete it",
          );
        await markCancelled(db, reportId);
        return result("cancelled", built.rows);
      }
      ctx.logger.info({ reportId, kind: record.kind, rows: built.rows, bytes: stored.bytes }, "report built");
      return { reportId, status: "succeeded", rows: built.rows, bytes: stored.bytes, storageKey: key };
    } catch (error) {
      if (error instanceof Cancelled) {
        await markCancelled(db, reportId);
        return result("cancelled");
      }
      if (ctx.signal.aborted) throw error; // shutting down: the job goes back to the queue as it is
      // parameters the data cannot answer never will: fail now; anything else is retried
      const permanent =
        error instanceof BuildThreadError
          ? error.permanent
          : error instanceof LedgerError && !(error instanceof NotSyncedError);
      const last = permanent || ctx.attempt >= (reportsQueue.defaultJobOptions.attempts ?? 1);
      await db
        .updateTable("reports.reports")
        .set({
          status: last ? "failed" : "queued",
          error: (error as Error).message,
          ...(last ? { finished_at: new Date() } : {}),
        })
        .where("id", "=", reportId)
        .where("status", "=", "running")
        .execute();
      if (permanent) throw new UnrecoverableError((error as Error).message);
      throw error;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

async function markCancelled(db: Kysely<Database>, reportId: string): Promise<void> {
  await db
    .updateTable("reports.reports")
    .set({ status: "cancelled", finished_at: new Date() })
    .where("id", "=", reportId)
    .where("status", "in", ["queued", "running"])
    .execute();
}
