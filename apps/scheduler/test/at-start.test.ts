import { parseEnv } from "@finanzas/config";
import { etlQueue, syncDeduplicationId } from "@finanzas/contracts";
import { addUnlessPending, createProducer, redisOptionsFromUrl } from "@finanzas/queue";
import { deleteQueueKeys, TEST_REDIS_URL, testLogger, testQueuePrefix } from "@finanzas/testing";
import { type Job, Queue, Worker } from "bullmq";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ConfigSchema } from "../src/config.js";
import { createScheduler, type RunningScheduler } from "../src/scheduler.js";
import { schedulesFrom } from "../src/schedules.js";

/*
 * The incremental sync runs once when the scheduler starts: on a fresh install that is the first
 * copy (an incremental sync of a model never synced reads it whole), minutes before the first cron
 * slot; after downtime it catches up. Replicas and restarts add no second one while one is pending.
 */

const logger = testLogger("scheduler");
const config = (env: Record<string, string> = {}) =>
  parseEnv("scheduler", ConfigSchema, { REPORT_CLEANUP_CRON: "off", ...env });

const prefixes: string[] = [];
const running: RunningScheduler[] = [];
const opened: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(opened.splice(0).map((o) => o.close()));
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteQueueKeys(prefix);
});

function setup(name: string) {
  const prefix = testQueuePrefix(`at-start-${name}`);
  prefixes.push(prefix);
  const connection = { redisUrl: TEST_REDIS_URL, prefix };
  const inspect = new Queue(etlQueue.name, { connection: redisOptionsFromUrl(TEST_REDIS_URL), prefix });
  opened.push(inspect);
  const start = async (env: Record<string, string> = {}) => {
    const scheduler = await createScheduler({
      connection,
      logger,
      schedules: schedulesFrom(config(env)),
      queues: [etlQueue],
    });
    running.push(scheduler);
    return scheduler;
  };
  // what a worker would take now: the cron's own next run is a delayed job, not among these
  const pendingSyncs = async () =>
    (await inspect.getJobs(["waiting", "prioritized", "active"])).filter((job) => job.name === "sync");
  return { connection, prefix, inspect, start, pendingSyncs };
}

describe("the incremental sync at start", () => {
  it("is queued once when the scheduler starts, not again by a replica or a restart while it is pending, and again at a start after it finished", async () => {
    const { prefix, start, pendingSyncs } = setup("once");
    await start();
    const [first, ...others] = await pendingSyncs();
    expect(others).toEqual([]);
    expect(first?.id).toMatch(/^sync-[0-9a-f-]{36}$/);
    expect(first?.data).toEqual({ mode: "incremental", requestedBy: "scheduler (at start)" });

    // a second replica, then a restart, while it waits
    await Promise.all([start(), start()]);
    expect((await pendingSyncs()).map((job) => job.id)).toEqual([first?.id]);

    // an etl-worker runs it
    const done: string[] = [];
    const worker = new Worker(
      etlQueue.name,
      async (job: Job) => {
        done.push(String(job.id));
        return { ok: true };
      },
      { connection: redisOptionsFromUrl(TEST_REDIS_URL), prefix },
    );
    opened.push(worker);
    await until(async () => done.length === 1 && (await pendingSyncs()).length === 0);
    await worker.close();
    expect(done).toEqual([first?.id]);

    // the next start catches up again
    await start();
    const [next, ...more] = await pendingSyncs();
    expect(more).toEqual([]);
    expect(next?.id).not.toBe(first?.id);
  });

  it("joins an identical sync the web-api queued instead of adding one", async () => {
    const { connection, start, pendingSyncs } = setup("join");
    const etl = createProducer(etlQueue, connection);
    opened.push(etl);
    // what POST /api/v1/sync/runs {"mode":"incremental"} enqueues
    const asked = await addUnlessPending(
      etl,
      "sync",
      { mode: "incremental", requestedBy: "ana@example.com" },
      { jobId: () => "sync-asked-by-ana", deduplicationId: syncDeduplicationId("incremental", undefined) },
    );
    expect(asked).toEqual({ id: "sync-asked-by-ana", existing: false });
    await start();
    expect((await pendingSyncs()).map((job) => [job.id, job.data.requestedBy])).toEqual([
      ["sync-asked-by-ana", "ana@example.com"],
    ]);
  });

  it("is not queued with ETL_SYNC_AT_START=false, nor with the sync's schedule off", async () => {
    const off = setup("off");
    await off.start({ ETL_SYNC_AT_START: "false" });
    expect(await off.pendingSyncs()).toEqual([]);
    expect((await off.inspect.getJobSchedulers(0, -1)).map((s) => s.id ?? s.key)).toContain(
      "etl-sync-incremental",
    );

    const noCron = setup("no-cron");
    await noCron.start({ ETL_SYNC_CRON: "off" });
    expect(await noCron.pendingSyncs()).toEqual([]);
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
