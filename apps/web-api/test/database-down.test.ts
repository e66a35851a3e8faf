import { type PostgresInstance, startPostgres } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./helpers.js";

/*
 * PostgreSQL going away under the API (a restart, a failover): requests get a 503 problem+json
 * telling the client when to retry, not a 500, and the same requests answer again once the
 * database is back, without restarting the API. The database is a PostgreSQL of this test's own,
 * which it stops and starts (the fault suite, packages/faults, does the same to the built service
 * under load, and terminates backends in the middle of reads).
 */
let server: PostgresInstance;
let t: TestApp;

beforeAll(async () => {
  server = await startPostgres();
  const url = await server.createDatabase("api_down");
  t = await startTestApp("down", { testDb: { name: "api_down", url, drop: async () => {} } });
}, 120_000);
afterAll(async () => {
  await t?.close();
  await server?.close();
});

const get = (url: string) =>
  t.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${t.tokens.finance}` } });

describe("PostgreSQL unavailable", () => {
  it("answers 503 problem+json with Retry-After while the database is down, and 200 once it is back", async () => {
    // (no sync ran here: the API's own tables only)
    expect((await get("/api/v1/sync/runs")).statusCode).toBe(200);
    await server.stop("fast");
    for (const url of ["/api/v1/invoices", "/api/v1/sync/runs", "/api/v1/me"]) {
      const started = Date.now();
      const res = await get(url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(503);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      expect(res.json()).toMatchObject({
        status: 503,
        title: "Service Unavailable",
        detail: expect.stringMatching(/database is not answering.*retry in \d+ seconds/),
      });
      // refused at once, not after the pool's connect timeout
      expect(Date.now() - started).toBeLessThan(3_000);
    }
    expect((await t.app.inject({ method: "GET", url: "/health/ready" })).statusCode).toBe(503);
    await server.start();
    const back = await get("/api/v1/sync/runs");
    expect(back.statusCode, back.body).toBe(200);
    expect((await t.app.inject({ method: "GET", url: "/health/ready" })).statusCode).toBe(200);
  }, 60_000);
});
