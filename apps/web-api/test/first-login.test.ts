import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { DEMO_SECRETS } from "@finanzas/config";
import { ACCESS_TOKEN_PROBLEM_TYPES, PASSWORD_CHANGE_REQUIRED_TYPE } from "@finanzas/contracts";
import { createDb } from "@finanzas/db";
import {
  createTestDatabase,
  deleteQueueKeys,
  freePort,
  type ServiceProcess,
  startProcess,
  TEST_REDIS_URL,
  type TestDatabase,
  testQueuePrefix,
  waitForHttpOk,
} from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The built web-api as a deployment runs it (NODE_ENV=production, secrets of its own), its first
// admin created from ADMIN_EMAIL / ADMIN_PASSWORD: that password sits in the deployment's
// configuration, so the admin must replace it before the API does anything else for them.

const entry = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const ADMIN = "owner@finanzas.test";
const FIRST_PASSWORD = randomBytes(18).toString("base64");
const prefix = testQueuePrefix("api-first-login");

const JWT_SECRET = randomBytes(48).toString("base64");

let database: TestDatabase;
let proc: ServiceProcess;
let base: string;

/** The built web-api on `db`, ready; `NODE_ENV` production unless said otherwise. */
async function startApi(db: TestDatabase, nodeEnv = "production") {
  const port = await freePort();
  const started = startProcess(entry, {
    NODE_ENV: nodeEnv,
    LOG_FORMAT: "json",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    JWT_SECRET,
    MAIL_UNSUBSCRIBE_SECRET: randomBytes(48).toString("base64"),
    ADMIN_EMAIL: ADMIN,
    ADMIN_PASSWORD: FIRST_PASSWORD,
    // every login and password change of this file from one address, in one window
    LOGIN_RATE_LIMIT_MAX: "1000",
  });
  await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, started, 45_000);
  return { proc: started, base: `http://127.0.0.1:${port}` };
}

beforeAll(async () => {
  database = await createTestDatabase("web_api_first_login");
  ({ proc, base } = await startApi(database));
}, 60_000);

afterAll(async () => {
  await proc?.stop("SIGTERM");
  await database?.drop();
  await deleteQueueKeys(prefix);
});

async function api(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; at?: string } = {},
) {
  const res = await fetch(`${options.at ?? base}/api/v1${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, only read by the assertions
    body: text ? (JSON.parse(text) as Record<string, any>) : null,
  };
}
const login = (password: string, at?: string) =>
  api("POST", "/auth/login", { body: { email: ADMIN, password }, ...(at ? { at } : {}) });

describe("the first admin in production", () => {
  it("must change ADMIN_PASSWORD at first login; until then every other route answers 403 naming the fix", async () => {
    const laptop = await login(FIRST_PASSWORD);
    expect(laptop.status).toBe(200);
    expect(laptop.body?.user).toMatchObject({ email: ADMIN, role: "admin", mustChangePassword: true });
    const phone = await login(FIRST_PASSWORD);
    expect(phone.status).toBe(200);
    const token = laptop.body!.accessToken as string;

    for (const [method, path] of [
      ["GET", "/me"],
      ["GET", "/users"],
      ["GET", "/invoices"],
      ["GET", "/sync/state"],
      ["POST", "/auth/logout-all"],
    ] as const) {
      const res = await api(method, path, { token, ...(method === "POST" ? { body: {} } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({
        type: PASSWORD_CHANGE_REQUIRED_TYPE,
        status: 403,
        detail: expect.stringContaining("POST /api/v1/auth/password"),
      });
    }
    // The metrics and the queue dashboard, admin-only, too.
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(metrics.status).toBe(403);
    const form = await fetch(`${base}/admin/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: ADMIN, password: FIRST_PASSWORD }).toString(),
      redirect: "manual",
    });
    expect(form.status).toBe(403);
    expect(form.headers.get("set-cookie")).toBeNull();
    expect(await form.text()).toContain("Change this account&#39;s password first");
  }, 60_000);

  it("refuses a wrong current password, the same password, or a published one", async () => {
    const token = (await login(FIRST_PASSWORD)).body!.accessToken as string;
    const change = (currentPassword: string, newPassword: string) =>
      api("POST", "/auth/password", { token, body: { currentPassword, newPassword } });

    const wrong = await change(`${FIRST_PASSWORD}x`, randomBytes(18).toString("base64"));
    expect(wrong.status).toBe(400);
    expect(wrong.body?.errors).toEqual([
      { field: "body.currentPassword", message: "is not this account's password" },
    ]);
    const same = await change(FIRST_PASSWORD, FIRST_PASSWORD);
    expect(same.status).toBe(400);
    expect(same.body?.errors).toEqual([
      { field: "body.newPassword", message: "must differ from the current password" },
    ]);
    for (const published of [DEMO_SECRETS.ADMIN_PASSWORD!, `${DEMO_SECRETS.ADMIN_PASSWORD}-2026`]) {
      const res = await change(FIRST_PASSWORD, published);
      expect(res.status).toBe(400);
      expect(res.body?.errors?.[0]?.field).toBe("body.newPassword");
      expect(res.body?.detail).toContain("published in the Finanzas repository");
    }
    const short = await change(FIRST_PASSWORD, "short");
    expect(short.status).toBe(400);
    // none of these changed anything: the first password still logs in, still flagged
    expect((await login(FIRST_PASSWORD)).body?.user.mustChangePassword).toBe(true);
  }, 60_000);

  it("changing it clears the flag, ends every other session, and hands this client a new pair", async () => {
    const laptop = (await login(FIRST_PASSWORD)).body!;
    const phone = (await login(FIRST_PASSWORD)).body!;
    const newPassword = randomBytes(18).toString("base64");

    const changed = await api("POST", "/auth/password", {
      token: laptop.accessToken,
      body: { currentPassword: FIRST_PASSWORD, newPassword },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      tokenType: "Bearer",
      user: { email: ADMIN, mustChangePassword: false },
    });
    const fresh = changed.body!;

    // the new pair works everywhere the admin may go
    expect((await api("GET", "/me", { token: fresh.accessToken })).body).toMatchObject({
      email: ADMIN,
      mustChangePassword: false,
    });
    const users = await api("GET", "/users", { token: fresh.accessToken });
    expect(users.status).toBe(200);
    expect(users.body?.items).toEqual([expect.objectContaining({ email: ADMIN, mustChangePassword: false })]);
    const metrics = await fetch(`${base}/metrics`, {
      headers: { authorization: `Bearer ${fresh.accessToken}` },
    });
    expect(metrics.status).toBe(200);

    // every earlier session is over: its access tokens are revoked, its refresh tokens refused
    for (const old of [laptop, phone]) {
      const me = await api("GET", "/me", { token: old.accessToken });
      expect(me.status).toBe(401);
      expect(me.body?.type).toBe(ACCESS_TOKEN_PROBLEM_TYPES.revoked);
      expect((await api("POST", "/auth/refresh", { body: { refreshToken: old.refreshToken } })).status).toBe(
        401,
      );
    }
    // the new refresh token works
    const refreshed = await api("POST", "/auth/refresh", { body: { refreshToken: fresh.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body?.user.mustChangePassword).toBe(false);

    // the first password is gone; the new one logs in, unflagged
    expect((await login(FIRST_PASSWORD)).status).toBe(401);
    const again = await login(newPassword);
    expect(again.status).toBe(200);
    expect(again.body?.user.mustChangePassword).toBe(false);
    const db = createDb({ url: database.url, max: 1 });
    try {
      const { rows } = await db.pool.query("select must_change_password from app.users where email = $1", [
        ADMIN,
      ]);
      expect(rows).toEqual([{ must_change_password: false }]);
    } finally {
      await db.close();
    }

    // a restart, ADMIN_PASSWORD still configured, flags nobody: the admin's password is its own now
    expect((await proc.stop("SIGTERM")).code).toBe(0);
    ({ proc, base } = await startApi(database));
    const after = await login(newPassword);
    expect(after.body?.user.mustChangePassword).toBe(false);
    expect((await api("GET", "/me", { token: after.body!.accessToken })).status).toBe(200);
  }, 120_000);

  it("an admin from before (created outside production) whose password is still ADMIN_PASSWORD must change it too", async () => {
    const earlier = await createTestDatabase("web_api_first_login_earlier");
    try {
      const development = await startApi(earlier, "development");
      const before = await login(FIRST_PASSWORD, development.base);
      expect(before.body?.user.mustChangePassword).toBe(false);
      expect((await development.proc.stop("SIGTERM")).code).toBe(0);

      const production = await startApi(earlier);
      try {
        expect(production.proc.output()).toContain("must choose a new one at its next login");
        // its tokens from before carry no such requirement: they stop working
        const stale = await api("GET", "/me", { token: before.body!.accessToken, at: production.base });
        expect(stale.status).toBe(401);
        expect(stale.body?.type).toBe(ACCESS_TOKEN_PROBLEM_TYPES.revoked);
        const now = await login(FIRST_PASSWORD, production.base);
        expect(now.body?.user.mustChangePassword).toBe(true);
        const me = await api("GET", "/me", { token: now.body!.accessToken, at: production.base });
        expect(me.status).toBe(403);
        expect(me.body?.type).toBe(PASSWORD_CHANGE_REQUIRED_TYPE);
      } finally {
        await production.proc.stop("SIGTERM");
      }
    } finally {
      await earlier.drop();
    }
  }, 180_000);
});
