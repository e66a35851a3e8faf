import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { type ReportKind, type ReportRequest, reportsQueue } from "@finanzas/contracts";
import { createDb, type Db } from "@finanzas/db";
import {
  normalizeReportParams,
  type ReportRecord,
  reportFileName,
  requestReport,
  today,
} from "@finanzas/ledger";
import { type Consumer, createProducer, type Producer } from "@finanzas/queue";
import { createFilesystemStorage, type Storage } from "@finanzas/storage";
import {
  createTestDatabase,
  deleteQueueKeys,
  type PyBook,
  readWithOpenpyxl,
  startTestOdoo,
  TEST_REDIS_URL,
  type TestDatabase,
  type TestOdoo,
  testLogger,
  testQueuePrefix,
} from "@finanzas/testing";
import { syncOnce } from "etl-worker/testing";
import type { BuildDeps } from "../src/jobs/build-report.js";
import { createReportWorker } from "../src/worker.js";

export const logger = testLogger("report-worker");

export interface Harness {
  database: TestDatabase;
  store: Db;
  odoo: TestOdoo;
  storage: Storage;
  prefix: string;
  producer: Producer<typeof reportsQueue>;
  worker: Consumer;
  /** Records a request as the API does (reusing an identical one) and enqueues its build if new. */
  request(
    request: ReportRequest,
    requestedBy?: string | null,
  ): Promise<{ report: ReportRecord; reused: boolean }>;
  /** Waits until the report reaches a final state. */
  settle(id: string, timeoutMs?: number): Promise<ReportRecord>;
  /** Downloads a finished report's file and reads it with openpyxl. */
  open(report: ReportRecord): Promise<PyBook>;
  /** Another report-worker on the same queue, database and storage (e.g. with other deps). */
  startWorker(overrides?: Partial<BuildDeps & { storage: Storage }>): Consumer;
  close(): Promise<void>;
}

/**
 * Data synced from the simulator by the real ETL, a report-worker consuming its own queue prefix,
 * files in a temporary directory: a report requested here goes the whole way a user's does.
 */
export async function startHarness(
  label: string,
  options: { scale?: number; worker?: Partial<BuildDeps> } = {},
): Promise<Harness> {
  const [database, odoo] = await Promise.all([
    createTestDatabase(label),
    startTestOdoo({ seed: 5, scale: options.scale ?? 0.1, version: 17 }),
  ]);
  const store = createDb({ url: database.url, max: 8 });
  await syncOnce({ store, odoo: odoo.odoo, logger });
  const dir = mkdtempSync(join(tmpdir(), `reports-${label}-`));
  const storage = createFilesystemStorage({ dir });
  const prefix = testQueuePrefix(label);
  const connection = { redisUrl: TEST_REDIS_URL, prefix };
  const producer = createProducer(reportsQueue, connection);
  const workers: Consumer[] = [];
  const startWorker = (overrides: Partial<BuildDeps & { storage: Storage }> = {}) => {
    const worker = createReportWorker({
      connection,
      logger,
      concurrency: 2,
      db: store.db,
      databaseUrl: database.url,
      storage: harness.storage,
      ttlHours: 72,
      statementTimeoutMs: 30_000,
      progressEveryMs: 20,
      firstSyncRecheckMs: 200,
      ...options.worker,
      ...overrides,
    });
    workers.push(worker);
    return worker;
  };
  const files = mkdtempSync(join(tmpdir(), `reports-read-${label}-`));
  let downloads = 0;
  const harness: Harness = {
    database,
    store,
    odoo,
    storage,
    prefix,
    producer,
    worker: undefined as unknown as Consumer,
    startWorker,
    async request(request, requestedBy = null) {
      const day = today();
      const params = normalizeReportParams(
        request.kind as ReportKind,
        request.params as Record<string, unknown>,
        day,
      );
      const { report, created, reused } = await requestReport(store.db, {
        kind: request.kind,
        params,
        requestedBy,
        fileName: reportFileName(request.kind, params, day),
      });
      if (created) await producer.add("build-report", { reportId: report.id }, { jobId: report.id });
      return { report, reused };
    },
    async settle(id, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const report = await store.db
          .selectFrom("reports.reports")
          .selectAll()
          .where("id", "=", id)
          .executeTakeFirstOrThrow();
        if (["succeeded", "failed", "cancelled"].includes(report.status)) return report;
        if (Date.now() > deadline)
          throw new Error(`report ${id} still ${report.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async open(report) {
      if (!report.storage_key)
        throw new Error(`report ${report.id} has no file (${report.status}: ${report.error})`);
      const object = await harness.storage.get(report.storage_key);
      if (!object) throw new Error(`the file of report ${report.id} is not in storage`);
      const path = join(files, `${++downloads}.xlsx`);
      writeFileSync(path, await buffer(object.body));
      return readWithOpenpyxl(path);
    },
    async close() {
      await Promise.allSettled(workers.map((w) => w.close(5_000)));
      await producer.close();
      await store.close();
      await odoo.close();
      await database.drop();
      await deleteQueueKeys(prefix);
      rmSync(dir, { recursive: true, force: true });
      rmSync(files, { recursive: true, force: true });
    },
  };
  harness.worker = startWorker();
  return harness;
}

/** The data rows of a sheet (below its title rows and header), as plain values. */
export function dataRows(sheet: PyBook["sheets"][number]): (string | number | boolean | null)[][] {
  const header = sheet.rows.findIndex(
    (row) => row.some((c) => c?.bold) && row.filter((c) => c !== null).length > 1,
  );
  return sheet.rows.slice(header + 1).map((row) => row.map((c) => (c === null ? null : c.v)));
}
