import { etlQueue } from "@finanzas/contracts";
import { createDb } from "@finanzas/db";
import { createProducer, createRedis } from "@finanzas/queue";
import { createTestDatabase, deleteQueueKeys, TEST_REDIS_URL, testQueuePrefix } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.js";
import { createUser as insertUser } from "../src/auth/users.js";
import { auth, createUser, logger, PASSWORD, startTestApp, type TestApp, testConfig } from "./helpers.js";

/*
 * The queue dashboard (bull-board at /admin/queues): its own session cookie (no API token),
 * browsers sent to the login form, read-only unless ADMIN_QUEUES_WRITE=true, a logout.
 */

const form = (t: TestApp, email: string, headers: Record<string, string> = {}, remoteAddress?: string) =>
  t.app.inject({
    method: "POST",
    url: "/admin/login",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    payload: new URLSearchParams({ email, password: PASSWORD }).toString(),
    ...(remoteAddress ? { remoteAddress } : {}),
  });

/** Logs in through the form; the Set-Cookie header and the `name=value` pair to send back. */
async function dashboardLogin(t: TestApp, email = "admin@example.com", headers: Record<string, string> = {}) {
  const res = await form(t, email, headers);
  expect(res.statusCode, res.body).toBe(303);
  expect(res.headers.location).toBe("/admin/queues");
  const setCookie = String(res.headers["set-cookie"]);
  return { setCookie, cookie: setCookie.split(";")[0]! };
}

describe("queue dashboard", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp("queues");
  });
  afterAll(() => t?.close());

  it("sends a browser without a session to the login form; scripts get a 401 problem", async () => {
    for (const url of ["/admin/queues", "/admin/queues/queue/etl"]) {
      const page = await t.app.inject({
        method: "GET",
        url,
        headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
      });
      expect(page.statusCode, url).toBe(303);
      expect(page.headers.location).toBe("/admin/login");
    }
    const form = await t.app.inject({ method: "GET", url: "/admin/login", headers: { accept: "text/html" } });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('<form method="post" action="/admin/login">');
    const script = await t.app.inject({ method: "GET", url: "/admin/queues/api/queues" });
    expect(script.statusCode).toBe(401);
    expect(script.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(script.json().detail).toMatch(/log in at \/admin\/login/);
  });

  it("logs an admin in with a cookie of its own: HttpOnly, SameSite=Strict, scoped to /admin/queues, no API token", async () => {
    const { setCookie, cookie } = await dashboardLogin(t);
    expect(setCookie).toMatch(/^finanzas_queues=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain("Path=/admin/queues;");
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toMatch(/Max-Age=3600/);
    expect(setCookie).not.toContain("Secure"); // plain HTTP outside production
    const board = await t.app.inject({
      method: "GET",
      url: "/admin/queues",
      headers: { cookie, accept: "text/html" },
    });
    expect(board.statusCode).toBe(200);
    expect(board.headers["content-type"]).toMatch(/text\/html/);
    const queues = await t.app.inject({
      method: "GET",
      url: "/admin/queues/api/queues",
      headers: { cookie },
    });
    expect(queues.statusCode).toBe(200);
    expect(
      queues
        .json()
        .queues.map((q: { name: string; readOnlyMode: boolean }) => `${q.name}:${q.readOnlyMode}`)
        .sort(),
    ).toEqual(["etl:true", "mail:true", "reports:true"]);
    // the API refuses it: as a cookie (the API reads none) and as a bearer token (it is no JWT)
    const value = cookie.split("=")[1]!;
    expect((await t.app.inject({ method: "GET", url: "/api/v1/me", headers: { cookie } })).statusCode).toBe(
      401,
    );
    expect((await t.app.inject({ method: "GET", url: "/api/v1/me", headers: auth(value) })).statusCode).toBe(
      401,
    );
    // and an API token is no session cookie
    const forged = `finanzas_queues=${t.tokens.admin}`;
    expect(
      (await t.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie: forged } }))
        .statusCode,
    ).toBe(401);
  });

  it("is for admins only: a finance user's form login is refused, and a demoted admin's session stops working", async () => {
    const refused = await form(t, "finance@example.com");
    expect(refused.statusCode).toBe(403);
    expect(refused.headers["set-cookie"]).toBeUndefined();
    const other = await createUser(t, "admin", "board");
    const { cookie } = await dashboardLogin(t, other.email);
    const api = () => t.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie } });
    expect((await api()).statusCode).toBe(200);
    const demoted = await t.app.inject({
      method: "PATCH",
      url: `/api/v1/users/${other.id}`,
      headers: auth(t.tokens.admin),
      payload: { role: "viewer" },
    });
    expect(demoted.statusCode).toBe(200);
    expect((await api()).statusCode).toBe(401);
    const page = await t.app.inject({
      method: "GET",
      url: "/admin/queues",
      headers: { cookie, accept: "text/html" },
    });
    expect(page.statusCode).toBe(303);
  });

  it("is read-only by default: actions are refused with 403 and the queue is untouched", async () => {
    const { cookie } = await dashboardLogin(t);
    const pause = await t.app.inject({
      method: "PUT",
      url: "/admin/queues/api/queues/etl/pause",
      headers: { cookie },
    });
    expect(pause.statusCode).toBe(403);
    expect(pause.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(pause.json().detail).toMatch(/ADMIN_QUEUES_WRITE=true/);
    // the same with an admin's bearer token
    const bearer = await t.app.inject({
      method: "PUT",
      url: "/admin/queues/api/queues/etl/pause",
      headers: auth(t.tokens.admin),
    });
    expect(bearer.statusCode).toBe(403);
    const etl = createProducer(etlQueue, { redisUrl: TEST_REDIS_URL, prefix: t.prefix });
    try {
      expect(await etl.queue.isPaused()).toBe(false);
    } finally {
      await etl.close();
    }
  });

  it("logs out: the session ends on the server, and the cookie is cleared", async () => {
    const { cookie } = await dashboardLogin(t);
    const out = await t.app.inject({ method: "GET", url: "/admin/queues/logout", headers: { cookie } });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe("/admin/login");
    const cleared = String(out.headers["set-cookie"]);
    expect(cleared).toMatch(/^finanzas_queues=; Path=\/admin\/queues; .*Max-Age=0/);
    // a copy of the old cookie (kept by an attacker, say) opens nothing any more
    expect(
      (await t.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie } }))
        .statusCode,
    ).toBe(401);
  });
});

describe("queue dashboard with ADMIN_QUEUES_WRITE=true, behind one proxy over HTTPS", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp("queues_write", { env: { ADMIN_QUEUES_WRITE: "true", TRUST_PROXY: "1" } });
  });
  afterAll(() => t?.close());

  it("lets an admin pause a queue, and marks the cookie Secure when the proxy says HTTPS", async () => {
    const { setCookie, cookie } = await dashboardLogin(t, "admin@example.com", {
      "x-forwarded-proto": "https",
      "x-forwarded-for": "198.51.100.7",
    });
    expect(setCookie).toContain("; Secure");
    const pause = await t.app.inject({
      method: "PUT",
      url: "/admin/queues/api/queues/etl/pause",
      headers: { cookie },
    });
    expect(pause.statusCode).toBe(200);
    const etl = createProducer(etlQueue, { redisUrl: TEST_REDIS_URL, prefix: t.prefix });
    try {
      expect(await etl.queue.isPaused()).toBe(true);
      await etl.queue.resume();
    } finally {
      await etl.close();
    }
  });
});

describe("queue dashboard in production", () => {
  it("marks the session cookie Secure even on plain HTTP", async () => {
    const testDb = await createTestDatabase("web_api_queues_prod");
    const database = createDb({ url: testDb.url, max: 4 });
    const redis = createRedis(TEST_REDIS_URL);
    const prefix = testQueuePrefix("api-queues-prod");
    const { ADMIN_EMAIL: _e, ADMIN_PASSWORD: _p, ...config } = testConfig();
    const built = await buildApp({
      logger,
      database,
      redis,
      checks: {},
      config: { ...config, NODE_ENV: "production" },
      connection: { redisUrl: TEST_REDIS_URL, prefix },
    });
    try {
      await insertUser(database.db, { email: "ops@example.com", password: PASSWORD, role: "admin" });
      const res = await built.app.inject({
        method: "POST",
        url: "/admin/login",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: new URLSearchParams({ email: "ops@example.com", password: PASSWORD }).toString(),
      });
      expect(res.statusCode).toBe(303);
      expect(String(res.headers["set-cookie"])).toMatch(/; Secure$/);
    } finally {
      await built.app.close();
      await database.close();
      redis.disconnect();
      await testDb.drop();
      await deleteQueueKeys(prefix);
    }
  });
});
