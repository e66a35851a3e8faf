import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createFilesystemStorage, createS3Storage } from "@finanzas/storage";
import { freePort } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteQueuedFiles, queueUnusedFiles } from "../src/index.js";
import { type Books, openBooks } from "./books.js";

/*
 * The files of deleted report records: queued in the records' transaction only when no record
 * points at them any more, deleted from a real store after, and kept when a record points at them
 * again before that (a reused report).
 */
let books: Books;
let dir: string;
beforeAll(async () => {
  books = await openBooks("ledger_report_files");
  dir = await mkdtemp(join(tmpdir(), "ledger-report-files-"));
});
afterAll(async () => {
  await books?.close();
  await rm(dir, { recursive: true, force: true });
});

const record = async (storageKey: string) => {
  const id = randomUUID();
  await books.store.db
    .insertInto("reports.reports")
    .values({
      id,
      kind: "trial-balance",
      params: "{}",
      request_key: storageKey,
      requested_by: null,
      status: "succeeded",
      file_name: "tb.xlsx",
      storage_key: storageKey,
    })
    .execute();
  return id;
};

/** Deletes records and queues their unused files in one transaction, as the API and the cleanup do. */
const remove = (ids: string[], keys: string[]) =>
  books.store.db.transaction().execute(async (trx) => {
    await trx.deleteFrom("reports.reports").where("id", "in", ids).execute();
    return queueUnusedFiles(trx, keys);
  });

describe("report files of deleted records", () => {
  it("queues a shared file with its last record only, deletes it from the store, and keeps a file reused before", async () => {
    const store = createFilesystemStorage({ dir });
    const put = (key: string) =>
      store.put(key, Readable.from([Buffer.from(key)]), { contentType: "application/octet-stream" });
    await put("reports/shared.xlsx");
    await put("reports/alone.xlsx");
    const a = await record("reports/shared.xlsx");
    const b = await record("reports/shared.xlsx");
    const c = await record("reports/alone.xlsx");

    expect(await remove([a], ["reports/shared.xlsx"])).toEqual([]); // b still points at it
    expect(await remove([b, c], ["reports/shared.xlsx", "reports/alone.xlsx", "reports/alone.xlsx"])).toEqual(
      ["reports/alone.xlsx", "reports/shared.xlsx"],
    );
    // an identical request reuses the shared file before the store deletes it
    await record("reports/shared.xlsx");

    const outcome = await deleteQueuedFiles(books.store.db, store);
    expect(outcome).toEqual({ deleted: 1, reused: 1, failed: [] });
    expect(await store.get("reports/alone.xlsx")).toBeNull();
    expect(await store.get("reports/shared.xlsx")).not.toBeNull();
    const left = await books.store.db.selectFrom("reports.file_deletions").select("storage_key").execute();
    expect(left).toEqual([]);
    // a key named but not queued (a record uses it) is left alone
    expect(await deleteQueuedFiles(books.store.db, store, { keys: ["reports/shared.xlsx"] })).toEqual({
      deleted: 0,
      reused: 0,
      failed: [],
    });
    expect(await store.get("reports/shared.xlsx")).not.toBeNull();
  });

  it("keeps the files a store that is down cannot delete, stops after 3 refusals, and tries the untried first next time", async () => {
    const keys = ["a", "b", "c", "d", "e"].map((k) => `reports/down-${k}.xlsx`);
    const ids = [];
    for (const key of keys) ids.push(await record(key));
    expect(await remove(ids, keys)).toEqual(keys);
    // an S3 store nobody listens for: every call is refused
    const port = await freePort();
    const down = createS3Storage({
      endpoint: `http://127.0.0.1:${port}`,
      bucket: "finanzas-reports",
      region: "us-east-1",
      accessKeyId: "key",
      secretAccessKey: "secret",
      forcePathStyle: true,
    });
    const attempts = async () =>
      Object.fromEntries(
        (
          await books.store.db
            .selectFrom("reports.file_deletions")
            .select(["storage_key", "attempts"])
            .execute()
        ).map((r) => [r.storage_key, r.attempts]),
      );

    const first = await deleteQueuedFiles(books.store.db, down);
    expect(first.deleted).toBe(0);
    expect(first.failed.map((f) => f.key)).toEqual(keys.slice(0, 3));
    expect(first.failed[0]!.error).toMatch(/ECONNREFUSED|connect/);
    expect(await attempts()).toEqual({
      [keys[0]!]: 1,
      [keys[1]!]: 1,
      [keys[2]!]: 1,
      [keys[3]!]: 0,
      [keys[4]!]: 0,
    });

    const second = await deleteQueuedFiles(books.store.db, down);
    expect(second.failed.map((f) => f.key)).toEqual([keys[3], keys[4], keys[0]]);

    // the store back: every file goes (the directory store has none of them: nothing to delete)
    const back = await deleteQueuedFiles(books.store.db, createFilesystemStorage({ dir }));
    expect(back).toEqual({ deleted: 5, reused: 0, failed: [] });
    expect(await attempts()).toEqual({});
  });
});
