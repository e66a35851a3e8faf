import { createRedis } from "@finanzas/queue";
import { deleteQueueKeys, TEST_REDIS_URL, testQueuePrefix } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRateLimiter } from "../src/rate-limit.js";
import { startTestApp, type TestApp } from "./helpers.js";

// The global per-client limit: counted in process, synced to Redis in batches (src/rate-limit.ts).
describe("global rate limit across two replicas", () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const env = { RATE_LIMIT_MAX: "10", RATE_LIMIT_WINDOW_SECONDS: "600" };
    a = await startTestApp("rl_a", { env, rateLimitSyncMs: 0 });
    b = await startTestApp("rl_b", { env, rateLimitSyncMs: 0, testDb: a.testDb, prefix: a.prefix });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const hit = (t: TestApp, remoteAddress: string) =>
    t.app.inject({ method: "GET", url: "/health/live", remoteAddress });

  it("is exact on one replica, shares counts through Redis, and answers 429 problem+json", async () => {
    const client = "10.1.2.3";
    for (let i = 0; i < 6; i++) expect((await hit(a, client)).statusCode).toBe(200);
    await a.built.rateLimit.sync();
    // b learns the cluster-wide count at its first sync for that client
    expect((await hit(b, client)).statusCode).toBe(200);
    await b.built.rateLimit.sync(); // 7 in Redis
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await hit(b, client)).statusCode);
    expect(codes).toEqual([200, 200, 200, 429]);
    const limited = await hit(b, client);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.headers["x-ratelimit-remaining"]).toBe("0");
    expect(limited.headers["x-request-id"]).toBeTruthy();
    expect(limited.headers["x-content-type-options"]).toBe("nosniff");
    expect(limited.json()).toMatchObject({ status: 429, title: "Too Many Requests" });
    await b.built.rateLimit.sync(); // 10 in Redis
    // the documented tolerance: a knows 6 until its next sync, so it may admit what b admitted meanwhile
    expect((await hit(a, client)).statusCode).toBe(200);
    await a.built.rateLimit.sync(); // 11 in Redis: a refuses from now on
    expect((await hit(a, client)).statusCode).toBe(429);
    // other clients have their own budget
    expect((await hit(a, "10.1.2.4")).statusCode).toBe(200);
    expect((await hit(b, "10.1.2.4")).statusCode).toBe(200);
  });
});

describe("local rate limiter", () => {
  const prefix = testQueuePrefix("rl-unit");
  const redis = createRedis(TEST_REDIS_URL);
  afterAll(async () => {
    await deleteQueueKeys(prefix);
    redis.disconnect();
  });

  it("starts again in each clock-aligned window and says how long to wait", async () => {
    // a window in the future, so its key's expiry (the window's end) is too
    const start = (Math.floor(Date.now() / 1000) + 100) * 1000;
    const clock = { now: start };
    const limiter = createLocalRateLimiter({
      redis,
      keyPrefix: `${prefix}:rate-limit:global:`,
      max: 3,
      windowMs: 1000,
      syncMs: 0,
      now: () => clock.now,
    });
    expect([0, 0, 0].map(() => limiter.take("c"))).toEqual([0, 0, 0]);
    clock.now += 250;
    expect(limiter.take("c")).toBe(750);
    await limiter.sync();
    const key = `${prefix}:rate-limit:global:${start / 1000}:c`;
    expect(await redis.get(key)).toBe("3");
    expect(await redis.pttl(key)).toBeGreaterThan(100_000);
    clock.now += 750; // the next window
    expect(limiter.take("c")).toBe(0);
    await limiter.close();
  });

  it("forgets synced clients when too many show up in one window, and relearns their totals", async () => {
    const limiter = createLocalRateLimiter({
      redis,
      keyPrefix: `${prefix}:many:`,
      max: 2,
      windowMs: 600_000,
      syncMs: 0,
      maxClients: 100,
    });
    expect(limiter.take("first")).toBe(0);
    expect(limiter.take("first")).toBe(0);
    for (let i = 0; i < 100; i++) limiter.take(`10.0.0.${i}`); // the 101st client triggers a sync
    await limiter.sync();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(limiter.clients).toBeLessThan(10);
    // "first" was forgotten locally but its count is in Redis: admitted once, then refused after a sync
    expect(limiter.take("first")).toBe(0);
    await limiter.sync();
    expect(limiter.take("first")).toBeGreaterThan(0);
    await limiter.close();
  });

  it("goes on limiting per replica when Redis is unreachable, and keeps the unsent counts", async () => {
    const dead = createRedis("redis://127.0.0.1:1");
    dead.on("error", () => {});
    const limiter = createLocalRateLimiter({
      redis: dead,
      keyPrefix: `${prefix}:dead:`,
      max: 2,
      windowMs: 60_000,
      syncMs: 0,
    });
    expect(limiter.take("c")).toBe(0);
    await limiter.sync();
    expect(limiter.take("c")).toBe(0);
    expect(limiter.take("c")).toBeGreaterThan(0);
    dead.disconnect();
  });
});
