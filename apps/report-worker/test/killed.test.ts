import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createFilesystemStorage } from "@finanzas/storage";
import { freePort, type ServiceProcess, startProcess, TEST_REDIS_URL } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataRows, type Harness, startHarness } from "./harness.js";

const entry = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/*
 * The report-worker as it runs in production, killed (SIGKILL) in the middle of a general ledger:
 * the record is never marked done with a half file, and once a worker runs again the job is taken
 * up (BullMQ finds it stalled when the dead worker's lock lapses) and completes from the top.
 */
let h: Harness;
const dir = mkdtempSync(join(tmpdir(), "reports-killed-"));
beforeAll(async () => {
  h = await startHarness("reports_killed", { scale: 0.3 });
  await h.worker.close(5_000); // only the worker processes below build here
  h.storage = createFilesystemStorage({ dir });
}, 120_000);
afterAll(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function worker(): Promise<ServiceProcess> {
  return startProcess(entry, {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    DATABASE_URL: h.database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: h.prefix,
    HEALTH_PORT: String(await freePort()),
    REPORTS_DIR: dir,
    // one row per fetch: long enough to be killed half way
    REPORT_BATCH_ROWS: "1",
    REPORT_LOCK_SECONDS: "3",
  });
}

describe("a report-worker killed mid-report", () => {
  it("leaves no file marked done, and the retried job completes the report", async () => {
    const first = await worker();
    const { report } = await h.request({
      kind: "general-ledger",
      params: { dateFrom: "2020-01-01", dateTo: "2030-12-31" },
    });
    const record = () =>
      h.store.db
        .selectFrom("reports.reports")
        .selectAll()
        .where("id", "=", report.id)
        .executeTakeFirstOrThrow();
    const deadline = Date.now() + 60_000;
    while ((await record()).status !== "running") {
      if (Date.now() > deadline) throw new Error(`the report never got going:\n${first.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300)); // well into its rows
    first.child.kill("SIGKILL");
    await first.exited;
    const dead = await record();
    expect(dead.status).toBe("running");
    expect(dead.storage_key).toBeNull();
    expect(readdirSync(dir).filter((f) => !f.startsWith("."))).toEqual([]); // nothing stored

    const second = await worker();
    try {
      const done = await h.settle(report.id, 120_000).catch(async (error: Error) => {
        // what the queue and the second worker say about a report that never finished
        const job = await h.producer.queue.getJob(report.id);
        const state = job ? await job.getState() : "no job";
        throw new Error(
          `${error.message}; its job: ${state}, ${job?.attemptsMade ?? 0} attempts made, ` +
            `stalled ${job?.stalledCounter ?? 0} times${job?.failedReason ? `, failed: ${job.failedReason}` : ""}\n` +
            `the second worker's output:\n${second.output()}`,
        );
      });
      expect(done.status, `${done.error}\n${second.output()}`).toBe("succeeded");
      expect(done.attempts).toBeGreaterThanOrEqual(2);
      const book = await h.open(done);
      const items = book.sheets
        .flatMap(dataRows)
        .filter((r) => typeof r[0] === "string" && /^\d{4}-/.test(r[0] as string));
      expect(items.length).toBe(done.rows);
      expect(new Set(items.map((r) => `${r[0]}|${r[1]}|${r[6]}|${r[7]}|${r[8]}`)).size).toBeGreaterThan(0);
    } finally {
      await second.stop("SIGTERM");
    }
  }, 180_000);
});
