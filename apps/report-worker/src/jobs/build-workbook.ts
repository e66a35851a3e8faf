import { createWriteStream } from "node:fs";
import type { ReportKind, ReportParamsOf } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { inSnapshot, syncedDataVersion } from "@finanzas/ledger";
import { type BuildContext, REPORTS } from "../reports/index.js";
import { createXlsxWriter } from "../xlsx/index.js";

/** What a build is asked for: plain data, so that it crosses to the build thread. */
export interface WorkbookJob {
  kind: ReportKind;
  params: Record<string, unknown>;
  /** When the report was requested (its title rows and document properties say so). */
  requestedAt: Date;
  /** Where the workbook is written. */
  file: string;
  statementTimeoutMs: number;
  /** Rows per sheet before a continuation sheet; Excel's limit unless a test sets less. */
  maxRowsPerSheet?: number | undefined;
  /** Rows fetched from a cursor at once. */
  batchSize?: number | undefined;
}

export interface BuiltWorkbook {
  /** Data rows written. */
  rows: number;
  /** The version of the synced data the snapshot saw (null while a sync was running). */
  dataVersion: string | null;
}

/**
 * A report's workbook from one snapshot of the synced copy into `job.file`, streamed: rows go to
 * the file as they are read. `wrote` is told the data rows written so far after each batch and
 * may throw to stop the build (the file is then left half written for the caller to remove).
 * Runs on a build thread (build-thread.ts).
 */
export async function buildWorkbook(
  db: Kysely<Database>,
  job: WorkbookJob,
  wrote: (rows: number) => void,
): Promise<BuiltWorkbook> {
  const output = createWriteStream(job.file);
  const closed = new Promise<void>((resolve, reject) => {
    output.on("close", resolve);
    output.on("error", reject);
  });
  const spec = REPORTS[job.kind];
  const workbook = createXlsxWriter(output, {
    title: spec.title,
    creator: "Finanzas",
    created: job.requestedAt,
    subject: JSON.stringify(job.params),
  });
  let rows = 0;
  try {
    const dataVersion = await inSnapshot(db, { statementTimeoutMs: job.statementTimeoutMs }, async (trx) => {
      const ctx: BuildContext = {
        trx,
        workbook,
        generatedAt: job.requestedAt,
        maxRows: job.maxRowsPerSheet,
        batchSize: job.batchSize,
        async wrote(n) {
          rows += n;
          wrote(rows);
        },
      };
      // the version of the data this snapshot sees (the runs table is in it too)
      const version = await syncedDataVersion(trx);
      await (spec.build as (ctx: BuildContext, params: ReportParamsOf<ReportKind>) => Promise<void>)(
        ctx,
        job.params as ReportParamsOf<ReportKind>,
      );
      return version;
    });
    await workbook.finish();
    await closed;
    return { rows, dataVersion };
  } catch (error) {
    output.destroy();
    await closed.catch(() => undefined);
    throw error;
  }
}
