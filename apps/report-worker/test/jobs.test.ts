import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { sql } from "@finanzas/db";
import { createS3Storage } from "@finanzas/storage";
import { holdFirstSync } from "@finanzas/testing";
import { syncOnce } from "etl-worker/testing";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageKeyOf } from "../src/jobs/build-report.js";
import { dataRows, type Harness, logger, startHarness } from "./harness.js";

/*
 * A report's life beyond its workbook: cancelled half way, found again for an identical request
 * while the data is unchanged (and not once a sync changed it), deleted when it expires, and
 * stored in an S3-compatible object store.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness("reports_jobs");
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const record = (id: string) =>
  h.store.db.selectFrom("reports.reports").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

/** One cleanup-reports job, not retried: its end state and its result or failure. */
async function cleanup() {
  const { id } = await h.producer.add("cleanup-reports", {}, { attempts: 1 });
  for (let i = 0; i < 600; i++) {
    const state = await (await h.producer.queue.getJob(id))?.getState();
    if (state === "completed" || state === "failed") {
      // read again once settled: the job fetched before may still have been active
      const settled = (await h.producer.queue.getJob(id))!;
      return {
        state,
        result: settled.returnvalue as { deleted: number; files?: number },
        reason: settled.failedReason,
      };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("cleanup did not finish");
}

describe("cancel", () => {
  it("stops a running report at its next batch: no file, the record says cancelled", async () => {
    // one row per fetch and progress on every batch: slow enough to be caught half way
    await h.worker.close(5_000);
    const slow = h.startWorker({ batchSize: 1, progressEveryMs: 0 });
    try {
      const { report } = await h.request({
        kind: "general-ledger",
        params: { dateFrom: "2020-01-01", dateTo: "2030-12-31" },
      });
      const deadline = Date.now() + 30_000;
      while ((await record(report.id)).rows < 20) {
        if (Date.now() > deadline) throw new Error("the report never got going");
        await new Promise((r) => setTimeout(r, 5));
      }
      // what DELETE /api/v1/reports/:id does to a running report
      await h.store.db
        .updateTable("reports.reports")
        .set({ cancel_requested_at: new Date() })
        .where("id", "=", report.id)
        .execute();
      const done = await h.settle(report.id);
      expect(done.status).toBe("cancelled");
      expect(done.storage_key).toBeNull();
      expect(await h.storage.get(storageKeyOf(report.id, done.created_at))).toBeNull();
      const { rows } = await sql<{ n: number }>`select count(*)::integer as n from odoo.account_move_line
        where account_id is not null and parent_state = 'posted'`.execute(h.store.db);
      expect(done.rows).toBeLessThan(rows[0]!.n);
    } finally {
      await slow.close(5_000);
      h.worker = h.startWorker();
    }
  });
});

describe("an identical request", () => {
  it("gets the stored file at once while the data is unchanged, and a new one after a sync changed it", async () => {
    const request = {
      kind: "aged-balance" as const,
      params: { type: "receivable" as const, asOf: "2030-01-01" },
    };
    const first = await h.request(request);
    expect(first.reused).toBe(false);
    const built = await h.settle(first.report.id);
    expect(built.status).toBe("succeeded");

    const again = await h.request(request, null);
    expect(again.reused).toBe(true);
    expect(again.report).toMatchObject({
      status: "succeeded",
      storage_key: built.storage_key,
      checksum: built.checksum,
    });
    expect(again.report.id).not.toBe(built.id);

    // a customer pays an open invoice in Odoo; the next sync brings it
    const open = h.odoo.sim.store.search("account.move", [
      ["move_type", "=", "out_invoice"],
      ["state", "=", "posted"],
      ["payment_state", "=", "not_paid"],
    ]);
    h.odoo.sim.control.payInvoice(open[0]!, { date: "2029-12-01" });
    await syncOnce({ store: h.store, odoo: h.odoo.odoo, logger, mode: "incremental" });

    const after = await h.request(request);
    expect(after.reused).toBe(false);
    const rebuilt = await h.settle(after.report.id);
    expect(rebuilt.status).toBe("succeeded");
    expect(rebuilt.checksum).not.toBe(built.checksum);
    const [before, now] = [await h.open(built), await h.open(rebuilt)];
    const total = (book: typeof before) => dataRows(book.sheets[0]!).at(-1)![6];
    expect(Number(total(now))).toBeLessThan(Number(total(before)));
  });
});

describe("expiry", () => {
  it("deletes expired records, and a shared file only with its last record", async () => {
    const request = {
      kind: "trial-balance" as const,
      params: { dateFrom: "2024-01-01", dateTo: "2024-01-31" },
    };
    const a = await h.settle((await h.request(request)).report.id);
    const b = (await h.request(request)).report; // reuses a's file
    expect(b.storage_key).toBe(a.storage_key);
    const expire = (id: string) =>
      h.store.db
        .updateTable("reports.reports")
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where("id", "=", id)
        .execute();
    await expire(a.id);
    expect((await cleanup()).result.deleted).toBe(1);
    expect(await h.storage.get(a.storage_key!)).not.toBeNull(); // b still points at it
    await expire(b.id);
    expect((await cleanup()).result.deleted).toBe(1);
    expect(await h.storage.get(a.storage_key!)).toBeNull();
    const left = await h.store.db
      .selectFrom("reports.reports")
      .select("id")
      .where("id", "in", [a.id, b.id])
      .execute();
    expect(left).toEqual([]);
  });
});

describe("a build that fails", () => {
  it("fails at once, with the ledger's reason, when the data cannot answer the parameters", async () => {
    // raised on the build's thread: its kind (no retry) and message reach the record
    const { report } = await h.request({
      kind: "general-ledger",
      params: { dateFrom: "2024-01-01", dateTo: "2024-12-31", companyId: 987_654 },
    });
    const done = await h.settle(report.id);
    expect(done.status).toBe("failed");
    expect(done.error).toBe("no company with id 987654");
    expect(done.attempts).toBe(1);
    expect(done.storage_key).toBeNull();
  });

  it("is tried again when nothing is synced yet, and built once the data is there", async () => {
    // the copy as before the first sync's companies: none
    const hide = (at: Date | null) =>
      h.store.db.updateTable("odoo.res_company").set({ _deleted_at: at }).execute();
    await hide(new Date());
    let restored = false;
    try {
      const { report } = await h.request({
        kind: "trial-balance",
        params: { dateFrom: "2024-03-01", dateTo: "2024-03-31" },
      });
      const deadline = Date.now() + 30_000;
      let waiting = await record(report.id);
      while (!waiting.error) {
        if (Date.now() > deadline) throw new Error("the first attempt never ended");
        await new Promise((r) => setTimeout(r, 25));
        waiting = await record(report.id);
      }
      // not failed: back in line, saying why
      expect(waiting.status).toBe("queued");
      expect(waiting.error).toMatch(/the first sync has not finished/);
      await hide(null);
      restored = true;
      const done = await h.settle(report.id);
      expect(done.status, done.error ?? "").toBe("succeeded");
      expect(done.attempts).toBe(2);
      const book = await h.open(done);
      expect(dataRows(book.sheets[0]!).at(-1)![1]).toBe("Total");
    } finally {
      if (!restored) await hide(null);
    }
  }, 60_000);
});

describe("a report asked for during the first sync", () => {
  it("waits, saying for what, without using an attempt, and is built once those models are synced", async () => {
    // the journal items and the reconciliations as during the first sync: not finished yet
    const models = ["account.move.line", "account.partial.reconcile"];
    const { saved, restore } = await holdFirstSync(h.store.db, models);
    expect(saved.map((c) => c.model).sort()).toEqual(models);
    let restored = false;
    try {
      const { report } = await h.request({
        kind: "general-ledger",
        params: { dateFrom: "2024-04-01", dateTo: "2024-04-30" },
      });
      const deadline = Date.now() + 30_000;
      let waiting = await record(report.id);
      while (!waiting.error) {
        if (Date.now() > deadline) throw new Error("the report never said it was waiting");
        await new Promise((r) => setTimeout(r, 25));
        waiting = await record(report.id);
      }
      expect(waiting.status).toBe("queued");
      // only what a general ledger reads: the reconciliations are not among them
      expect(waiting.error).toBe(
        "waiting for the first sync of account.move.line to finish (GET /api/v1/sync/state): the report is built once it has",
      );
      // it keeps waiting, looking again, and never runs a build nor uses an attempt
      await new Promise((r) => setTimeout(r, 1_000));
      const still = await record(report.id);
      expect(still.status).toBe("queued");
      expect(still.attempts).toBe(0);
      // between two looks its job is delayed (it is active only for the instant of a look)
      const until = Date.now() + 10_000;
      while ((await (await h.producer.queue.getJob(report.id))!.getState()) !== "delayed") {
        if (Date.now() > until) throw new Error("the report's job is never delayed between two looks");
        await new Promise((r) => setTimeout(r, 25));
      }
      const job = await h.producer.queue.getJob(report.id);
      expect(job!.attemptsMade).toBe(0);

      await restore();
      restored = true;
      const done = await h.settle(report.id);
      expect(done.status, done.error ?? "").toBe("succeeded");
      expect(done.attempts).toBe(1);
      expect(done.error).toBeNull();
      const book = await h.open(done);
      expect(book.sheets.length).toBeGreaterThan(0);
      expect(dataRows(book.sheets[0]!).length).toBeGreaterThan(0);
    } finally {
      if (!restored) await restore();
    }
  }, 60_000);
});

describe("S3-compatible storage", () => {
  let server: S3rver;
  let dir: string;
  let port: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "reports-s3rver-"));
    server = new S3rver({ address: "127.0.0.1", port: 0, directory: dir, silent: true });
    ({ port } = await server.run());
    const s3 = createS3Storage({
      endpoint: `http://127.0.0.1:${port}`,
      bucket: "finanzas-reports",
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      forcePathStyle: true,
    });
    await s3.client.send(new CreateBucketCommand({ Bucket: "finanzas-reports" }));
    await h.worker.close(5_000);
    h.worker = h.startWorker({ storage: s3 });
    h.storage = s3;
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores the workbook in the bucket, where it opens like the file one", async () => {
    const { report } = await h.request({
      kind: "trial-balance",
      params: { dateFrom: "2024-01-01", dateTo: "2024-12-31", companyId: 1 },
    });
    const done = await h.settle(report.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    const object = await h.storage.get(done.storage_key!);
    expect(object?.bytes).toBe(done.bytes);
    const book = await h.open(done);
    expect(dataRows(book.sheets[0]!).at(-1)![1]).toBe("Total");
  });

  it("keeps an expired report's file queued while the store is down, fails the cleanup, and deletes the file once the store is back", async () => {
    const { report } = await h.request({
      kind: "trial-balance",
      params: { dateFrom: "2024-02-01", dateTo: "2024-02-29", companyId: 1 },
    });
    const done = await h.settle(report.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    const key = done.storage_key!;
    await h.store.db
      .updateTable("reports.reports")
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where("id", "=", report.id)
      .execute();
    const queued = () =>
      h.store.db
        .selectFrom("reports.file_deletions")
        .selectAll()
        .where("storage_key", "=", key)
        .executeTakeFirst();

    await server.close(); // the store goes away: connections refused
    const down = await cleanup();
    expect(down.state).toBe("failed");
    expect(down.reason).toMatch(/1 report file could not be deleted from the store and stays queued/);
    expect(down.reason).toContain(key);
    // the record is gone; its file is neither lost track of nor deleted
    expect(
      await h.store.db.selectFrom("reports.reports").select("id").where("id", "=", report.id).execute(),
    ).toEqual([]);
    const waiting = await queued();
    expect(waiting?.attempts).toBe(1);
    expect(waiting?.last_error).toMatch(/ECONNREFUSED|connect/);

    server = new S3rver({ address: "127.0.0.1", port, directory: dir, silent: true });
    await server.run();
    expect(await h.storage.get(key)).not.toBeNull();
    const back = await cleanup();
    expect(back.state, back.reason).toBe("completed");
    expect(back.result.files).toBe(1);
    expect(await h.storage.get(key)).toBeNull();
    expect(await queued()).toBeUndefined();
  });
});
