import { defineJob, defineQueue } from "@finanzas/contracts";
import { redisOptionsFromUrl } from "@finanzas/queue";
import { type RedisInstance, startRedis, testLogger } from "@finanzas/testing";
import { Type } from "@sinclair/typebox";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScheduler } from "../src/scheduler.js";
import { schedule } from "../src/schedules.js";

/*
 * Schedules Redis lost (a FLUSHALL, a restart without persistence) come back by themselves: the
 * running scheduler checks every `checkEveryMs`, and at once when its connection comes back.
 */

const logger = testLogger("scheduler");

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

let redis: RedisInstance;
let inspect: Queue;

beforeAll(async () => {
  redis = await startRedis();
  inspect = new Queue("ticks", { connection: redisOptionsFromUrl(redis.url), prefix: "lost" });
}, 30_000);

afterAll(async () => {
  await inspect?.close();
  await redis?.close();
});

const ids = async () => (await inspect.getJobSchedulers(0, -1)).map((s) => s.id ?? s.key).sort();

async function until<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("schedules Redis lost", () => {
  it("are registered again after a FLUSHALL within one check, and after a restart without persistence at reconnect", async () => {
    const scheduler = await createScheduler({
      connection: { redisUrl: redis.url, prefix: "lost" },
      logger,
      schedules: [every15, nightly],
      queues: [ticks],
      checkEveryMs: 1_000,
    });
    try {
      expect(await ids()).toEqual(["tick-night", "tick-sync"]);
      const next = (await inspect.getJobScheduler("tick-sync"))?.next;

      // A check that finds them all in place changes nothing (the next run is not moved).
      expect(await scheduler.check()).toEqual([]);
      expect((await inspect.getJobScheduler("tick-sync"))?.next).toBe(next);

      await redis.flushAll();
      expect(await ids()).toEqual([]);
      const back = await until(async () => ((await ids()).length === 2 ? await ids() : undefined), 5_000);
      expect(back.value).toEqual(["tick-night", "tick-sync"]);
      // its next run is the same cron instant, with its delayed job there to run it
      const again = await inspect.getJobScheduler("tick-sync");
      expect(again?.pattern).toBe("*/15 * * * *");
      expect(again?.next).toBe(next);
      expect(await inspect.getDelayedCount()).toBe(2);

      // Redis restarted empty (no persistence): back at reconnect, whatever the interval.
      await redis.restart();
      const restarted = await until(async () => ((await ids()).length === 2 ? true : undefined), 10_000);
      expect(restarted.value).toBe(true);
      expect(await inspect.getDelayedCount()).toBe(2);
    } finally {
      await scheduler.close();
    }
  }, 60_000);
});
