import { reportsQueue } from "@finanzas/contracts";
import { TEST_REDIS_URL } from "@finanzas/testing";
import { UnrecoverableError, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReportRecovery } from "../src/recovery.js";
import { dataRows, type Harness, logger, startHarness } from "./harness.js";

/*
 * A report whose job ended while the report did not: BullMQ fails a job it found stalled more often
 * than it allows (a worker that died twice under it, or whose lock lapsed on a loaded machine)
 * without running the handler that would have recorded the outcome. The record stays `running`
 * with nothing left to move it; the recovery sweep takes it up again, or fails it with the reason
 * once it was started as often as the queue allows.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness("reports_recovery");
  await h.worker.close(5_000); // nothing builds until a test starts a worker
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const redis = new URL(TEST_REDIS_URL);
const STALLED = "job stalled more than allowable limit";

/**
 * A report taken by a worker that started its build `attempts` times and then died: the record is
 * `running`, its job failed as BullMQ's stalled check leaves it.
 */
async function stalledOut(dateTo: string, attempts: number) {
  const { report } = await h.request({
    kind: "trial-balance",
    params: { dateFrom: "2024-01-01", dateTo },
  });
  const dead = new Worker(reportsQueue.name, null, {
    connection: { host: redis.hostname, port: Number(redis.port || 6379) },
    prefix: h.prefix,
  });
  try {
    const job = await dead.getNextJob("dead-worker");
    expect(job?.id).toBe(report.id);
    await h.store.db
      .updateTable("reports.reports")
      .set({ status: "running", attempts, started_at: new Date() })
      .where("id", "=", report.id)
      .execute();
    // straight to failed, whatever attempts are left, as the stalled check moves it
    await job!.moveToFailed(new UnrecoverableError(STALLED), "dead-worker");
  } finally {
    await dead.close();
  }
  expect(await (await h.producer.queue.getJob(report.id))!.getState()).toBe("failed");
  return report;
}

function recovery() {
  let clock = Date.now();
  const sweeper = createReportRecovery({
    db: h.store.db,
    producer: h.producer,
    logger,
    intervalMs: 60_000,
    requeueAfterSeconds: 0,
    stuckAfterMs: 5_000,
    now: () => clock,
  });
  return {
    sweep: () => sweeper.sweep(),
    later(ms: number) {
      clock += ms;
    },
  };
}

const record = (id: string) =>
  h.store.db.selectFrom("reports.reports").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

describe("a report whose job ended before the report did", () => {
  it("fails with the job's reason once it was started as often as the queue allows", async () => {
    const report = await stalledOut("2024-01-30", reportsQueue.defaultJobOptions.attempts ?? 1);
    const r = recovery();
    expect(await r.sweep()).toBe(0); // a build may still be writing: its progress is watched first
    r.later(5_000);
    expect(await r.sweep()).toBe(0);
    const failed = await record(report.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toBe(`the build stopped without finishing 3 times (${STALLED})`);
    expect(failed.finished_at).not.toBeNull();
    // not tried again: its failed job is kept for the queue's dashboard
    expect(await (await h.producer.queue.getJob(report.id))!.getState()).toBe("failed");
  });

  it("is enqueued again and built when it has attempts left", async () => {
    const report = await stalledOut("2024-01-31", 2);
    const r = recovery();
    expect(await r.sweep()).toBe(0);
    expect((await record(report.id)).status).toBe("running");
    r.later(4_000);
    expect(await r.sweep()).toBe(0); // not stuck long enough yet
    r.later(1_000);
    expect(await r.sweep()).toBe(1);
    expect((await record(report.id)).status).toBe("queued");
    expect(await (await h.producer.queue.getJob(report.id))!.getState()).toBe("waiting");

    h.startWorker();
    const done = await h.settle(report.id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    expect(done.attempts).toBe(3);
    const book = await h.open(done);
    expect(dataRows(book.sheets[0]!).at(-1)![1]).toBe("Total");
  });
});
