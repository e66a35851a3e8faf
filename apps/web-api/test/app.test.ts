import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./helpers.js";

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp("app");
});
afterAll(() => t?.close());

describe("web-api app", () => {
  it("answers readiness with the state of PostgreSQL and Redis", async () => {
    const ready = await t.app.inject({ method: "GET", url: "/health/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true, status: "ready", checks: { postgres: "ok", redis: "ok" } });
    expect((await t.app.inject({ method: "GET", url: "/health/live" })).json()).toEqual({ status: "ok" });
  });

  it("answers an unknown route with problem+json naming the route, and echoes the request id", async () => {
    const res = await t.app.inject({
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

  it("sends security headers and answers CORS preflights for the configured origins only", async () => {
    const res = await t.app.inject({ method: "GET", url: "/health/live" });
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(res.headers["x-frame-options"]).toBeDefined();
    const preflight = await t.app.inject({
      method: "OPTIONS",
      url: "/api/v1/invoices",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "GET" },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
    const foreign = await t.app.inject({
      method: "OPTIONS",
      url: "/api/v1/invoices",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("stops reporting ready once draining", async () => {
    t.built.drain();
    const res = await t.app.inject({ method: "GET", url: "/health/ready" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ ready: false, status: "shutting down" });
  });
});
