import { createTestDatabase, type RedisInstance, startRedis, type TestDatabase } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEtl } from "./etl.js";
import { ADMIN_EMAIL, PASSWORD, startTestApp, type TestApp } from "./helpers.js";

/*
 * Redis frozen (SIGSTOP: connections open, nothing answers) or stopped under the API: finance reads
 * answer from PostgreSQL and login answers, each within its timeout; queue operations answer 503
 * problem+json with Retry-After; readiness says `degraded` with Redis's error, still 200; a sync
 * run's record still reads; /metrics answers with queue_up 0 in place of the queues' depth. The data comes from a sync made beforehand on the shared Redis.
 */
// This file measures the production timeout (the suite's config raises it for the other files,
// whose Redis is healthy but whose event loop a loaded CI runner can stall past 2 s).
process.env.REDIS_COMMAND_TIMEOUT_MS = "2000";

let testDb: TestDatabase;
let redis: RedisInstance;
let t: TestApp;
let runId = "";

beforeAll(async () => {
  testDb = await createTestDatabase("web_api_redis_down");
  const seed = await startTestApp("redis_down_seed", { testDb });
  const etl = await startEtl(seed);
  try {
    runId = (await etl.sync({ mode: "full" })).runId;
  } finally {
    await etl.close();
    await seed.close();
  }
  redis = await startRedis();
  t = await startTestApp("redis_down", { testDb, redisUrl: redis.url, env: { CACHE_TTL_SECONDS: "300" } });
}, 180_000);

afterAll(async () => {
  redis?.thaw();
  await t?.close();
  await redis?.close();
  await testDb?.drop();
});

const get = (url: string) =>
  t.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${t.tokens.finance}` } });

const metrics = () =>
  t.app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${t.tokens.admin}` } });

async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await call();
  return { value, ms: Date.now() - started };
}

describe("Redis frozen under the API", () => {
  it("reads, login and a run's record answer within their timeouts; enqueues answer 503 with Retry-After; /metrics answers without the queues' depth", async () => {
    const cached = await get("/api/v1/invoices?limit=2");
    expect(cached.statusCode).toBe(200);
    redis.freeze();
    try {
      const uncached = await timed(() => get("/api/v1/invoices?limit=3"));
      expect(uncached.value.statusCode, uncached.value.body).toBe(200);
      expect(uncached.value.json().items).toHaveLength(3);
      expect(uncached.ms).toBeLessThan(3_000);

      const again = await timed(() => get("/api/v1/invoices?limit=2"));
      expect(again.value.statusCode).toBe(200);
      expect(again.value.headers["x-cache"]).toBe("hit");

      const login = await timed(() =>
        t.app.inject({
          method: "POST",
          url: "/api/v1/auth/login",
          payload: { email: ADMIN_EMAIL, password: PASSWORD },
        }),
      );
      expect(login.value.statusCode, login.value.body).toBe(200);
      expect(login.ms).toBeLessThan(3_000);

      const enqueue = await timed(() =>
        t.app.inject({
          method: "POST",
          url: "/api/v1/reports",
          headers: { authorization: `Bearer ${t.tokens.finance}` },
          payload: { kind: "trial-balance", params: { dateFrom: "2024-01-01", dateTo: "2024-12-31" } },
        }),
      );
      expect(enqueue.value.statusCode, enqueue.value.body).toBe(503);
      expect(enqueue.value.headers["retry-after"]).toBe("5");
      expect(enqueue.value.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(enqueue.value.json().detail).toContain("the job queue (Redis) is not answering");
      expect(enqueue.ms).toBeLessThan(5_000);
      // the refused request left no report behind for a worker that will never get its job
      const reports = await get("/api/v1/reports");
      expect(reports.json().items).toEqual([]);

      const run = await timed(() => get(`/api/v1/sync/runs/${runId}`));
      expect(run.value.statusCode, run.value.body).toBe(200);
      expect(run.value.json().status).toBe("succeeded");
      expect(run.ms).toBeLessThan(5_000);

      const ready = await timed(() => t.app.inject({ method: "GET", url: "/health/ready" }));
      expect(ready.value.statusCode).toBe(200);
      expect(ready.value.json()).toMatchObject({
        ready: true,
        status: "degraded",
        checks: { postgres: "ok" },
      });
      expect(ready.value.json().checks.redis).toMatch(/^error: /);

      // the scrape keeps the API's own figures and says the queues' depth is unknown
      const scrape = await timed(() => metrics());
      expect(scrape.value.statusCode, scrape.value.body).toBe(200);
      for (const queue of ["etl", "reports", "mail"])
        expect(scrape.value.body).toContain(`queue_up{queue="${queue}"} 0`);
      expect(scrape.value.body).not.toContain("queue_jobs{");
      expect(scrape.value.body).toMatch(
        /http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/invoices"/,
      );
      expect(scrape.ms).toBeLessThan(5_000);
    } finally {
      redis.thaw();
    }
    const ready = await t.app.inject({ method: "GET", url: "/health/ready" });
    expect(ready.json()).toMatchObject({ ready: true, status: "ready" });
    const scrape = await metrics();
    expect(scrape.body).toContain('queue_up{queue="reports"} 1');
    expect(scrape.body).toMatch(/queue_jobs\{queue="reports",state="waiting"\} \d+/);
  }, 60_000);

  it("a sync job Redis lost is reported from its run record, and an unknown one says it may have been lost", async () => {
    await redis.flushAll();
    const run = await get(`/api/v1/sync/runs/${runId}`);
    expect(run.statusCode).toBe(200);
    expect(run.json().status).toBe("succeeded");
    const lost = await get("/api/v1/sync/runs/sync-00000000-0000-4000-8000-000000000000");
    expect(lost.statusCode).toBe(404);
    expect(lost.json().detail).toContain("a job Redis lost before a worker started it leaves no run");
  }, 30_000);
});
