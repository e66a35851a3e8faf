import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteQueuedFiles } from "@finanzas/ledger";
import type { Consumer } from "@finanzas/queue";
import { createFilesystemStorage, createS3Storage } from "@finanzas/storage";
import { freePort, readWithOpenpyxl, TEST_REDIS_URL } from "@finanzas/testing";
import { createReportWorker, XLSX_CONTENT_TYPE } from "report-worker/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Etl, startEtl } from "./etl.js";
import { auth, logger, startTestApp, type TestApp } from "./helpers.js";

/*
 * Excel reports through the API as a frontend uses them: request, follow, download, open (with
 * openpyxl), ask again, cancel, delete; each role sees its own reports; bad parameters are 400s
 * naming the field. Data synced by the real ETL, reports built by a real report-worker consumer.
 */
let t: TestApp;
let etl: Etl;
let worker: Consumer;
const dir = mkdtempSync(join(tmpdir(), "api-reports-"));
const storage = createFilesystemStorage({ dir: join(dir, "files") });

const startWorker = () =>
  createReportWorker({
    connection: { redisUrl: TEST_REDIS_URL, prefix: t.prefix },
    logger,
    concurrency: 2,
    db: t.database.db,
    databaseUrl: t.testDb.url,
    storage,
    ttlHours: 72,
    statementTimeoutMs: 30_000,
  });

beforeAll(async () => {
  t = await startTestApp("reports", { storage });
  etl = await startEtl(t);
  const { run } = await etl.sync({ mode: "full" });
  expect(run.status).toBe("succeeded");
  worker = startWorker();
}, 120_000);
afterAll(async () => {
  await worker?.close(5_000);
  await etl?.close();
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (payload: unknown, token = t.tokens.viewer) =>
  t.app.inject({ method: "POST", url: "/api/v1/reports", headers: auth(token), payload: payload as object });
const get = (url: string, token = t.tokens.viewer) =>
  t.app.inject({ method: "GET", url, headers: auth(token) });

async function settled(id: string, token = t.tokens.viewer) {
  for (let i = 0; i < 600; i++) {
    const res = await get(`/api/v1/reports/${id}`, token);
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json();
    if (["succeeded", "failed", "cancelled"].includes(report.status)) return report;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`report ${id} did not finish`);
}

describe("a report through the API", () => {
  it("is built, downloaded as a named workbook, and equals the API's aging to the cent", async () => {
    const asOf = "2025-06-30";
    const created = await post({ kind: "aged-balance", params: { type: "receivable", asOf } });
    expect(created.statusCode, created.body).toBe(202);
    const { reportId, reused } = created.json();
    expect(reused).toBe(false);
    const report = await settled(reportId);
    expect(report).toMatchObject({
      status: "succeeded",
      progress: 100,
      fileName: `aged-receivables-${asOf}.xlsx`,
    });
    expect(report.downloadUrl).toBe(`/api/v1/reports/${reportId}/file`);
    expect(report.bytes).toBeGreaterThan(1000);

    const file = await get(report.downloadUrl);
    expect(file.statusCode).toBe(200);
    expect(file.headers["content-type"]).toBe(XLSX_CONTENT_TYPE);
    expect(file.headers["content-disposition"]).toContain(`filename="aged-receivables-${asOf}.xlsx"`);
    expect(file.rawPayload.length).toBe(report.bytes);
    const path = join(dir, "aged.xlsx");
    writeFileSync(path, file.rawPayload);
    const book = readWithOpenpyxl(path);

    const aging = (await get(`/api/v1/aging?kind=receivable&asOf=${asOf}`)).json();
    const cents = (v: unknown) => Math.round(Number(v) * 100);
    const summaries = book.sheets.filter((s) => s.title.startsWith("Receivables"));
    expect(summaries).toHaveLength(aging.companies.length);
    for (const [i, company] of aging.companies.entries()) {
      const last = summaries[i]!.rows.at(-1)!;
      expect(last[0]?.v).toBe("Total");
      expect(last.slice(1, 7).map((c) => cents(c?.v))).toEqual(
        ["notDue", "days1To30", "days31To60", "days61To90", "over90", "total"].map((k) =>
          cents(company.totals[k]),
        ),
      );
      expect(last[6]?.dt).toBe("n");
    }

    // asked again while the data is unchanged: the same file, at once
    const again = await post({ kind: "aged-balance", params: { type: "receivable", asOf } });
    expect(again.json()).toMatchObject({ status: "succeeded", reused: true });
    const second = (await get(`/api/v1/reports/${again.json().reportId}`)).json();
    expect(second.checksum).toBe(report.checksum);
  });

  it("names each bad parameter in a 400", async () => {
    const missing = await post({ kind: "general-ledger", params: { dateFrom: "2024-01-01" } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toContainEqual({ field: "body.params.dateTo", message: "is required" });
    const reversed = await post({
      kind: "trial-balance",
      params: { dateFrom: "2024-12-31", dateTo: "2024-01-01" },
    });
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json().errors).toEqual([
      { field: "body.params.dateFrom", message: "must not be after dateTo" },
    ]);
    const extra = await post({
      kind: "trial-balance",
      params: { dateFrom: "2024-01-01", dateTo: "2024-02-30", x: 1 },
    });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(["body.params.x", "body.params.dateTo"]),
    );
    const kind = await post({ kind: "balance-sheet", params: {} });
    expect(kind.statusCode).toBe(400);
    expect(kind.json().errors[0].field).toBe("body.kind");
  });

  it("keeps each user's reports to that user, admins seeing all", async () => {
    const mine = (
      await post({ kind: "trial-balance", params: { dateFrom: "2024-01-01", dateTo: "2024-03-31" } })
    ).json();
    expect((await get(`/api/v1/reports/${mine.reportId}`, t.tokens.finance)).statusCode).toBe(404);
    expect((await get(`/api/v1/reports/${mine.reportId}/file`, t.tokens.finance)).statusCode).toBe(404);
    expect((await get(`/api/v1/reports/${mine.reportId}`, t.tokens.admin)).statusCode).toBe(200);
    const financeList = (await get("/api/v1/reports", t.tokens.finance)).json();
    expect(financeList.items.map((r: { id: string }) => r.id)).not.toContain(mine.reportId);
    const adminList = (await get("/api/v1/reports?limit=1", t.tokens.admin)).json();
    expect(adminList.items).toHaveLength(1);
    expect(adminList.next).toEqual(expect.any(String));
    const page2 = (await get(`/api/v1/reports?limit=200&cursor=${adminList.next}`, t.tokens.admin)).json();
    const ids = [adminList.items[0].id, ...page2.items.map((r: { id: string }) => r.id)];
    expect(ids).toContain(mine.reportId);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await get("/api/v1/reports?cursor=bogus", t.tokens.admin)).statusCode).toBe(400);
    await settled(mine.reportId);
  });

  it("limits the reports a user has under way, cancels a queued one and deletes a finished one", async () => {
    // three queued reports of the finance user that no worker takes (written as the API would)
    await worker.close(5_000);
    try {
      const queued: string[] = [];
      for (const month of ["01", "02", "03"]) {
        const res = await post(
          { kind: "trial-balance", params: { dateFrom: `2023-${month}-01`, dateTo: `2023-${month}-28` } },
          t.tokens.finance,
        );
        expect(res.statusCode, res.body).toBe(202);
        queued.push(res.json().reportId);
      }
      const fourth = await post(
        { kind: "trial-balance", params: { dateFrom: "2023-04-01", dateTo: "2023-04-30" } },
        t.tokens.finance,
      );
      expect(fourth.statusCode).toBe(429);
      expect(fourth.json().detail).toMatch(/at most 3 at once/);
      expect((await get(`/api/v1/reports/${queued[0]}/file`, t.tokens.finance)).statusCode).toBe(409);
      const cancel = await t.app.inject({
        method: "DELETE",
        url: `/api/v1/reports/${queued[0]}`,
        headers: auth(t.tokens.finance),
      });
      expect(cancel.statusCode).toBe(204);
      expect((await get(`/api/v1/reports/${queued[0]}`, t.tokens.finance)).json().status).toBe("cancelled");
      expect(
        (
          await post(
            { kind: "trial-balance", params: { dateFrom: "2023-04-01", dateTo: "2023-04-30" } },
            t.tokens.finance,
          )
        ).statusCode,
      ).toBe(202);
    } finally {
      worker = startWorker();
    }
    const done = await post({
      kind: "trial-balance",
      params: { dateFrom: "2022-01-01", dateTo: "2022-12-31" },
    });
    const report = await settled(done.json().reportId);
    const key = `reports/${report.createdAt.slice(0, 4)}/${report.createdAt.slice(5, 7)}/${report.id}.xlsx`;
    expect(await storage.get(key)).not.toBeNull();
    const removed = await t.app.inject({
      method: "DELETE",
      url: `/api/v1/reports/${report.id}`,
      headers: auth(t.tokens.viewer),
    });
    expect(removed.statusCode).toBe(204);
    expect((await get(`/api/v1/reports/${report.id}`)).statusCode).toBe(404);
    expect(await storage.get(key)).toBeNull();
  });

  it("deletes a finished report while the file store is down, and leaves its file queued for the cleanup", async () => {
    const done = await post({
      kind: "trial-balance",
      params: { dateFrom: "2021-01-01", dateTo: "2021-12-31" },
    });
    const report = await settled(done.json().reportId);
    const key = `reports/${report.createdAt.slice(0, 4)}/${report.createdAt.slice(5, 7)}/${report.id}.xlsx`;
    // the same API over an S3 store nobody listens for: every call to it is refused
    const port = await freePort();
    const down = await startTestApp("reports", {
      testDb: t.testDb,
      storage: createS3Storage({
        endpoint: `http://127.0.0.1:${port}`,
        bucket: "finanzas-reports",
        region: "us-east-1",
        accessKeyId: "key",
        secretAccessKey: "secret",
        forcePathStyle: true,
      }),
    });
    try {
      const removed = await down.app.inject({
        method: "DELETE",
        url: `/api/v1/reports/${report.id}`,
        headers: auth(down.tokens.viewer),
      });
      // the report is deleted: not a 503 blaming the database for the store's outage
      expect(removed.statusCode, removed.body).toBe(204);
    } finally {
      await down.close();
    }
    expect((await get(`/api/v1/reports/${report.id}`)).statusCode).toBe(404);
    const queued = await t.database.db
      .selectFrom("reports.file_deletions")
      .selectAll()
      .where("storage_key", "=", key)
      .executeTakeFirst();
    expect(queued?.attempts).toBe(1);
    expect(queued?.last_error).toMatch(/ECONNREFUSED|connect/);
    // the cleanup (the report-worker's, scheduled), against the store that has the file, deletes it
    expect(await storage.get(key)).not.toBeNull();
    const outcome = await deleteQueuedFiles(t.database.db, storage);
    expect(outcome).toMatchObject({ deleted: 1, failed: [] });
    expect(await storage.get(key)).toBeNull();
  });
});
