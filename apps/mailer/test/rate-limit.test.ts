import { createRedis } from "@finanzas/queue";
import { deleteQueueKeys, TEST_REDIS_URL, testQueuePrefix } from "@finanzas/testing";
import type { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createRateLimiter } from "../src/rate-limit.js";

/*
 * The messages-per-second limit in real Redis, as two replicas share it: each holds its own
 * limiter (its own Redis connection) on the same prefix.
 */

const clients: Redis[] = [];
const prefixes: string[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const p of prefixes) await deleteQueueKeys(p);
});

function replicas(ratePerSecond: number, prefetch = 0) {
  const prefix = testQueuePrefix("mail-rate");
  prefixes.push(prefix);
  return [0, 1].map(() => {
    const redis = createRedis(TEST_REDIS_URL);
    clients.push(redis);
    return createRateLimiter({ redis, prefix, ratePerSecond, prefetch });
  });
}

/** The most takes in any one-second window. */
const busiestSecond = (times: number[]) =>
  Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + 1_000).length));

describe("the rate limit shared by replicas", () => {
  it("lets both replicas together take no more than the rate, every token used", async () => {
    const rate = 20;
    for (const prefetch of [0, 8]) {
      const [a, b] = replicas(rate, prefetch);
      const times: number[] = [];
      const started = Date.now();
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          await (i % 2 ? a! : b!).take();
          times.push(Date.now());
        }),
      );
      const seconds = (Date.now() - started) / 1_000;
      // 50 tokens at 20 per second, of which a bucket of 2 at once: at least 2.4 s
      expect(seconds).toBeGreaterThanOrEqual((50 - 2) / rate - 0.05);
      expect(seconds).toBeLessThan(5);
      expect(busiestSecond(times)).toBeLessThanOrEqual(Math.ceil(rate * 1.2) + 1);
    }
  }, 20_000);

  it("pauses every replica when one is asked to slow down", async () => {
    const [a, b] = replicas(1_000);
    await a!.take();
    await b!.pause(400);
    const started = Date.now();
    await a!.take();
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it("gives up a wait when its signal aborts", async () => {
    const [a] = replicas(1);
    await a!.take(); // the one token of the bucket
    const stop = new AbortController();
    const waiting = a!.take(stop.signal);
    setTimeout(() => stop.abort(new Error("stopping")), 50);
    await expect(waiting).rejects.toThrow("stopping");
  });
});
