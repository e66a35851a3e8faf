import { createDb } from "@finanzas/db";
import { createLogger } from "@finanzas/logger";
import { createRedis } from "@finanzas/queue";
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, buildApp } from "../src/app.js";

const logger = createLogger({ service: "web-api", version: "test", level: "silent", pretty: false });
let testDb: TestDatabase;
let built: App;
let closeAll: () => Promise<void>;

beforeAll(async () => {
  testDb = await createTestDatabase("web_api_app");
  const database = createDb({ url: testDb.url, max: 2 });
  const redis = createRedis(TEST_REDIS_URL);
  built = await buildApp({
    logger,
    database,
    redis,
    checks: { postgres: () => database.ping(), redis: () => redis.ping() },
  });
  closeAll = async () => {
    await built.app.close();
    await database.close();
    redis.disconnect();
    await testDb.drop();
  };
});
afterAll(() => closeAll());

describe("web-api app", () => {
  it("answers readiness with the state of PostgreSQL and Redis, and 503 once draining", async () => {
    const ready = await built.app.inject({ method: "GET", url: "/health/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true, status: "ready", checks: { postgres: "ok", redis: "ok" } });
    expect((await built.app.inject({ method: "GET", url: "/health/live" })).json()).toEqual({ status: "ok" });
  });

  it("answers an unknown route with problem+json naming the route, and echoes the request id", async () => {
    const res = await built.app.inject({
      method: "GET",
      url: "/api/v1/nope?x=1",
      headers: { "x-request-id": "req-42" },
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.headers["x-request-id"]).toBe("req-42");
    expect(res.json()).toEqual({
      type: "about:blank",
      title: "Not Found",
      status: 404,
      detail: "no route for GET /api/v1/nope",
      instance: "/api/v1/nope?x=1",
      requestId: "req-42",
    });
  });

  it("answers malformed JSON with a 400 problem", async () => {
    const res = await built.app.inject({
      method: "POST",
      url: "/health/live",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("stops reporting ready once draining", async () => {
    built.drain();
    const res = await built.app.inject({ method: "GET", url: "/health/ready" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ ready: false, status: "shutting down" });
  });
});
