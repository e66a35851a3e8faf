import { parseEnv } from "@finanzas/config";
import { etlQueue } from "@finanzas/contracts";
import { redisOptionsFromUrl } from "@finanzas/queue";
import { deleteQueueKeys, TEST_REDIS_URL, testLogger, testQueuePrefix } from "@finanzas/testing";
import { Queue } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigSchema } from "../src/config.js";
import { syncSchedules } from "../src/scheduler.js";
import { schedulesFrom } from "../src/schedules.js";

const logger = testLogger("scheduler");
const prefix = testQueuePrefix("etl-schedules");
const connection = { redisUrl: TEST_REDIS_URL, prefix };
const inspect = new Queue(etlQueue.name, { connection: redisOptionsFromUrl(TEST_REDIS_URL), prefix });

afterAll(async () => {
  await inspect.close();
  await deleteQueueKeys(prefix);
});

const config = (env: Record<string, string> = {}) => parseEnv("scheduler", ConfigSchema, env);

describe("ETL and report schedules", () => {
  it("default to an incremental sync every 15 minutes, a nightly deletion reconciliation and purge of old runs, and an hourly report cleanup", () => {
    const schedules = schedulesFrom(config());
    expect(schedules.map((s) => [s.id, s.queue.name, s.job, s.cron, s.payload])).toEqual([
      [
        "etl-sync-incremental",
        "etl",
        "sync",
        "*/15 * * * *",
        { mode: "incremental", requestedBy: "scheduler" },
      ],
      ["etl-reconcile-deletions", "etl", "reconcile-deletions", "30 2 * * *", { requestedBy: "scheduler" }],
      ["etl-purge-runs", "etl", "purge-runs", "45 3 * * *", { requestedBy: "scheduler" }],
      ["reports-cleanup", "reports", "cleanup-reports", "17 * * * *", { requestedBy: "scheduler" }],
    ]);
    expect(schedulesFrom(config({ REPORT_CLEANUP_CRON: "off" })).map((s) => s.id)).not.toContain(
      "reports-cleanup",
    );
    expect(schedulesFrom(config({ ETL_PURGE_CRON: "off" })).map((s) => s.id)).not.toContain("etl-purge-runs");
  });

  it("rejects a malformed cron with the variable's name", () => {
    expect(() => config({ ETL_SYNC_CRON: "every 5 minutes" })).toThrow(
      /ETL_SYNC_CRON: expected a five-field cron/,
    );
  });

  it("register on the etl queue, follow a changed cron on restart, and are removed when turned off", async () => {
    await Promise.all([
      syncSchedules({ connection, logger, schedules: schedulesFrom(config()), queues: [etlQueue] }),
      syncSchedules({ connection, logger, schedules: schedulesFrom(config()), queues: [etlQueue] }),
    ]);
    const list = async () =>
      (await inspect.getJobSchedulers(0, -1))
        .map((s) => ({ id: s.id ?? s.key, pattern: s.pattern, name: s.name }))
        .sort((a, b) => a.id.localeCompare(b.id));
    expect(await list()).toEqual([
      { id: "etl-purge-runs", pattern: "45 3 * * *", name: "purge-runs" },
      { id: "etl-reconcile-deletions", pattern: "30 2 * * *", name: "reconcile-deletions" },
      { id: "etl-sync-incremental", pattern: "*/15 * * * *", name: "sync" },
    ]);
    const restarted = await syncSchedules({
      connection,
      logger,
      schedules: schedulesFrom(
        config({ ETL_SYNC_CRON: "*/5 * * * *", ETL_RECONCILE_CRON: "off", ETL_PURGE_CRON: "off" }),
      ),
      queues: [etlQueue],
    });
    expect(restarted.removed.sort()).toEqual(["etl-purge-runs", "etl-reconcile-deletions"]);
    expect(await list()).toEqual([{ id: "etl-sync-incremental", pattern: "*/5 * * * *", name: "sync" }]);
    const [next] = await inspect.getDelayed();
    expect(next?.name).toBe("sync");
    expect(next?.data).toEqual({ mode: "incremental", requestedBy: "scheduler" });
  });
});
