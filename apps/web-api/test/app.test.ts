import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_SECURITY_HEADERS, HSTS, HTML_CSP, registerHeaders } from "../src/plugins/headers.js";
import { auth, startTestApp, type TestApp } from "./helpers.js";

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

  it("answers finance reads made before any etl-worker created the synced tables with a 503 saying what to do", async () => {
    for (const url of ["/api/v1/invoices", "/api/v1/partners?q=acme", "/api/v1/dashboard"]) {
      const res = await t.app.inject({ method: "GET", url, headers: auth(t.tokens.viewer) });
      expect(res.statusCode, url).toBe(503);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json().detail).toMatch(
        /odoo\.\w+ does not exist\): start the etl-worker.*POST \/api\/v1\/sync\/runs/,
      );
    }
  });

  it("sends the documented security header set on API responses, errors included", async () => {
    for (const url of ["/health/live", "/api/v1/nope", "/api/v1/invoices"]) {
      const res = await t.app.inject({ method: "GET", url });
      for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) {
        expect(res.headers[name], `${url} ${name}`).toBe(value);
      }
      expect(res.headers["content-security-policy"]).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["x-request-id"]).toBeTruthy();
      expect(res.headers.vary).toContain("Origin");
      // not production: no HSTS; none of helmet's HTML-only headers on JSON
      expect(res.headers["strict-transport-security"]).toBeUndefined();
      expect(res.headers["x-xss-protection"]).toBeUndefined();
      expect(res.headers["x-ratelimit-remaining"]).toBeUndefined();
    }
  });

  it("keeps a page CSP on the HTML pages: /docs and /admin/login; none on bull-board's", async () => {
    for (const url of ["/docs/", "/admin/login"]) {
      const res = await t.app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBeLessThan(400);
      expect(res.headers["content-security-policy"], url).toBe(HTML_CSP);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["cross-origin-opener-policy"]).toBe("same-origin");
    }
    const board = await t.app.inject({ method: "GET", url: "/admin/queues", headers: auth(t.tokens.admin) });
    expect(board.statusCode).toBe(200);
    expect(board.headers["content-security-policy"]).toBeUndefined();
    expect(board.headers["x-frame-options"]).toBe("DENY");
    expect(board.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("sends HSTS in production only", async () => {
    const app = Fastify() as unknown as Parameters<typeof registerHeaders>[0];
    registerHeaders(app, { production: true, origins: ["*"] });
    app.get("/", { config: { access: "public" } }, async () => ({ ok: true }));
    const res = await app.inject({ method: "GET", url: "/", headers: { origin: "https://any.example" } });
    expect(res.headers["strict-transport-security"]).toBe(HSTS);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(res.headers.vary).toBeUndefined();
    await app.close();
  });

  it("answers CORS for the configured origins only, preflights included", async () => {
    const simple = await t.app.inject({
      method: "GET",
      url: "/health/live",
      headers: { origin: "http://localhost:5173" },
    });
    expect(simple.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
    expect(simple.headers["access-control-expose-headers"]).toContain("x-request-id");
    const other = await t.app.inject({
      method: "GET",
      url: "/health/live",
      headers: { origin: "https://evil.example" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await t.app.inject({
      method: "OPTIONS",
      url: "/api/v1/invoices",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "GET" },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
    expect(preflight.headers["access-control-allow-methods"]).toContain("PATCH");
    expect(preflight.headers["access-control-allow-headers"]).toContain("authorization");
    expect(preflight.headers["access-control-max-age"]).toBe("600");
    const foreign = await t.app.inject({
      method: "OPTIONS",
      url: "/api/v1/invoices",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
    expect(foreign.headers["access-control-allow-methods"]).toBeUndefined();
  });

  it("stops reporting ready once draining", async () => {
    t.built.drain();
    const res = await t.app.inject({ method: "GET", url: "/health/ready" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ ready: false, status: "shutting down" });
  });
});
