import { defineJob, defineQueue } from "@finanzas/contracts";
import { redisOptionsFromUrl } from "@finanzas/queue";
import { deleteQueueKeys, TEST_REDIS_URL, testLogger, testQueuePrefix } from "@finanzas/testing";
import { Type } from "@sinclair/typebox";
import { Queue } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { syncSchedules } from "../src/scheduler.js";
import { schedule } from "../src/schedules.js";

const logger = testLogger("scheduler");
const prefix = testQueuePrefix("schedules");
const connection = { redisUrl: TEST_REDIS_URL, prefix };

// Test-only contract: the real schedules arrive with the jobs they run.
const ticks = defineQueue({
  name: "ticks",
  jobs: {
    tick: defineJob({
      description: "a tick",
      payload: Type.Object({ kind: Type.String() }),
      result: Type.Object({}),
    }),
  },
});

const inspect = new Queue("ticks", { connection: redisOptionsFromUrl(TEST_REDIS_URL), prefix });

afterAll(async () => {
  await inspect.close();
  await deleteQueueKeys(prefix);
});

const schedulers = async () =>
  (await inspect.getJobSchedulers(0, -1)).map((s) => ({
    id: s.id ?? s.key,
    pattern: s.pattern,
    name: s.name,
  }));

describe("syncSchedules", () => {
  it("registers, updates on a changed cron, and removes undeclared schedules, across replicas", async () => {
    const every15 = schedule({
      id: "tick-sync",
      queue: ticks,
      job: "tick",
      payload: { kind: "sync" },
      cron: "*/15 * * * *",
    });
    const nightly = schedule({
      id: "tick-night",
      queue: ticks,
      job: "tick",
      payload: { kind: "night" },
      cron: "0 3 * * *",
    });

    // Two replicas start at once with the same declarations: one scheduler per id.
    await Promise.all([
      syncSchedules({ connection, logger, schedules: [every15, nightly], queues: [ticks] }),
      syncSchedules({ connection, logger, schedules: [every15, nightly], queues: [ticks] }),
    ]);
    expect((await schedulers()).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: "tick-night", pattern: "0 3 * * *", name: "tick" },
      { id: "tick-sync", pattern: "*/15 * * * *", name: "tick" },
    ]);
    // The next run is already waiting as a delayed job, with the declared payload.
    const delayed = await inspect.getDelayed();
    expect(delayed.map((j) => j.data).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: "night" },
      { kind: "sync" },
    ]);

    // Restart with a changed cron and the nightly schedule gone.
    const result = await syncSchedules({
      connection,
      logger,
      schedules: [{ ...every15, cron: "*/5 * * * *" }],
      queues: [ticks],
    });
    expect(result).toEqual({ upserted: ["tick-sync"], removed: ["tick-night"] });
    expect(await schedulers()).toEqual([{ id: "tick-sync", pattern: "*/5 * * * *", name: "tick" }]);
  });

  it("refuses a schedule whose payload breaks the contract", async () => {
    const bad = schedule({
      id: "bad",
      queue: ticks,
      job: "tick",
      payload: { kind: 5 as unknown as string },
      cron: "* * * * *",
    });
    await expect(syncSchedules({ connection, logger, schedules: [bad], queues: [ticks] })).rejects.toThrow(
      /invalid payload of schedule bad: \/kind expected string/,
    );
  });
});
