import { randomUUID } from "node:crypto";
import type { Role } from "@finanzas/contracts";
import { createDb, type Db } from "@finanzas/db";
import { ensureModelTables } from "@finanzas/ledger";
import { createRedis } from "@finanzas/queue";
import {
  createTestDatabase,
  deleteQueueKeys,
  TEST_REDIS_URL,
  type TestDatabase,
  testQueuePrefix,
} from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, buildApp } from "../src/app.js";
import { ADMIN_EMAIL, auth, logger, PASSWORD, testConfig } from "./helpers.js";

/*
 * Access tokens stop working the moment they are revoked (user disabled, role or password changed,
 * session logged out or replayed), on every replica, without a database round trip per request.
 * Replicas A and B share PostgreSQL, Redis and QUEUE_PREFIX, like two processes behind a load
 * balancer, and never re-read PostgreSQL periodically: what one learns from the other, it learned
 * by pub/sub.
 */

interface Replica {
  built: App;
  app: App["app"];
  database: Db;
  /** 0: real time; otherwise the app's frozen clock (token iat and expiry). */
  clock: { now: number };
  close(): Promise<void>;
}

async function startReplica(testDb: TestDatabase, prefix: string, resyncMs: number): Promise<Replica> {
  const database = createDb({ url: testDb.url, max: 4 });
  const redis = createRedis(TEST_REDIS_URL);
  const clock = { now: 0 };
  const built = await buildApp({
    logger,
    database,
    redis,
    checks: {},
    config: testConfig(),
    connection: { redisUrl: TEST_REDIS_URL, prefix },
    now: () => clock.now || Date.now(),
    revocationResyncMs: resyncMs,
  });
  await built.revocations.ready;
  return {
    built,
    app: built.app,
    database,
    clock,
    async close() {
      await built.app.close();
      await database.close();
      redis.disconnect();
    },
  };
}

let testDb: TestDatabase;
const prefix = testQueuePrefix("api-revoke");
const otherPrefixes: string[] = [];
let a: Replica;
let b: Replica;
let adminToken: string;

beforeAll(async () => {
  testDb = await createTestDatabase("web_api_revoke");
  a = await startReplica(testDb, prefix, 0);
  b = await startReplica(testDb, prefix, 0);
  await ensureModelTables(a.database.db);
  adminToken = (await login(a, ADMIN_EMAIL)).body.accessToken;
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await testDb?.drop();
  for (const p of [prefix, ...otherPrefixes]) await deleteQueueKeys(p);
});

const get = (on: Replica, url: string, token: string) =>
  on.app.inject({ method: "GET", url, headers: auth(token) });
const login = async (on: Replica, email: string, password = PASSWORD) => {
  const res = await on.app.inject({
    method: "POST",
    url: "/api/v1/auth/login",
    payload: { email, password },
  });
  return { status: res.statusCode, body: res.json() };
};
const refresh = (on: Replica, refreshToken: string) =>
  on.app.inject({ method: "POST", url: "/api/v1/auth/refresh", payload: { refreshToken } });
const logout = (on: Replica, refreshToken: string) =>
  on.app.inject({ method: "POST", url: "/api/v1/auth/logout", payload: { refreshToken } });
/** An admin change made on replica A (the admin's own token is never revoked here). */
const patchUser = async (id: string, payload: Record<string, unknown>) => {
  const res = await a.app.inject({
    method: "PATCH",
    url: `/api/v1/users/${id}`,
    headers: auth(adminToken),
    payload,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const newUser = async (role: Role) => {
  const email = `${role}-${randomUUID().slice(0, 8)}@example.com`;
  const res = await a.app.inject({
    method: "POST",
    url: "/api/v1/users",
    headers: auth(adminToken),
    payload: { email, password: PASSWORD, role },
  });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id as string, email };
};
/** Answers twice on each replica, so the token sits in their verified-token memos (the hot path). */
const warm = async (token: string, url = "/api/v1/invoices") => {
  for (const on of [a, b, a, b]) expect((await get(on, url, token)).statusCode).toBe(200);
};
/** Polls a replica (another process would hear the message a few ms after the commit). */
async function eventually401(on: Replica, url: string, token: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await get(on, url, token);
    if (res.statusCode === 401) {
      expectRevoked(res);
      return Date.now() - started;
    }
    expect(res.statusCode).toBe(200);
    if (Date.now() - started > 3000) throw new Error(`${url} still answers 200 after 3 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
function expectRevoked(res: Awaited<ReturnType<typeof get>>) {
  expect(res.statusCode).toBe(401);
  expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(res.json().detail).toBe("token revoked: sign in again");
  expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
}
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as { iat: number };

describe("revoking access tokens", () => {
  it("disable: the user's access token gets 401 at once here, and on the other replica without waiting for a resync", async () => {
    const user = await newUser("viewer");
    const session = (await login(b, user.email)).body;
    await warm(session.accessToken);

    await patchUser(user.id, { disabled: true });
    expectRevoked(await get(a, "/api/v1/invoices", session.accessToken));
    expect(await eventually401(b, "/api/v1/invoices", session.accessToken)).toBeLessThan(3000);
    expect((await login(b, user.email)).status).toBe(401);
    expect((await refresh(b, session.refreshToken)).statusCode).toBe(401);

    // enabled again: a new login works on both replicas, the old token stays dead
    await patchUser(user.id, { disabled: false });
    const again = (await login(b, user.email)).body;
    await warm(again.accessToken);
    expectRevoked(await get(b, "/api/v1/invoices", session.accessToken));
  });

  it("admin → viewer: the old token gets 401 on every route and replica; a login in the same second is a viewer (reads 200, admin routes 403)", async () => {
    const admin = await newUser("admin");
    // both replicas' clocks stop, so the old and the new token carry the same `iat` second
    const now = Date.now();
    a.clock.now = now;
    b.clock.now = now;
    const before = (await login(b, admin.email)).body;
    await warm(before.accessToken, "/api/v1/users");
    await warm(before.accessToken);

    await patchUser(admin.id, { role: "viewer" });
    // 401, not 403: the token's role is stale, so the client has to sign in again (its refresh
    // token was revoked with it) and gets a token with the role it has now
    expectRevoked(await get(a, "/api/v1/users", before.accessToken));
    expectRevoked(await get(a, "/api/v1/invoices", before.accessToken));
    await eventually401(b, "/api/v1/users", before.accessToken);
    expectRevoked(await get(b, "/api/v1/invoices", before.accessToken));
    expect((await refresh(a, before.refreshToken)).statusCode).toBe(401);

    const after = await login(b, admin.email);
    expect(after.status).toBe(200);
    expect(after.body.user.role).toBe("viewer");
    expect(claimsOf(after.body.accessToken).iat).toBe(claimsOf(before.accessToken).iat);
    for (const on of [a, b]) {
      expect((await get(on, "/api/v1/invoices", after.body.accessToken)).statusCode).toBe(200);
      const denied = await get(on, "/api/v1/users", after.body.accessToken);
      expect(denied.statusCode).toBe(403);
      expect(denied.json().detail).toContain("role viewer may not GET /api/v1/users");
    }
    expect((await get(a, "/api/v1/me", after.body.accessToken)).json().role).toBe("viewer");
    a.clock.now = 0;
    b.clock.now = 0;
  });

  it("a new password ends the old tokens; a login with the new password works", async () => {
    const user = await newUser("finance");
    const session = (await login(a, user.email)).body;
    await warm(session.accessToken, "/api/v1/sync/runs");
    await patchUser(user.id, { password: "a brand new password 42" });
    expectRevoked(await get(a, "/api/v1/sync/runs", session.accessToken));
    await eventually401(b, "/api/v1/sync/runs", session.accessToken);
    expect((await login(b, user.email)).status).toBe(401);
    const fresh = await login(b, user.email, "a brand new password 42");
    expect(fresh.status).toBe(200);
    await warm(fresh.body.accessToken, "/api/v1/sync/runs");
  });

  it("logout ends that session's access token at once on every replica; the user's other session keeps working", async () => {
    const user = await newUser("viewer");
    const laptop = (await login(a, user.email)).body;
    const phone = (await login(a, user.email)).body;
    await warm(laptop.accessToken);
    await warm(phone.accessToken);

    expect((await logout(b, laptop.refreshToken)).statusCode).toBe(204);
    expectRevoked(await get(b, "/api/v1/invoices", laptop.accessToken));
    await eventually401(a, "/api/v1/invoices", laptop.accessToken);
    expect((await refresh(a, laptop.refreshToken)).statusCode).toBe(401);
    // the other device: its access token and its refresh token still work
    await warm(phone.accessToken);
    const renewed = await refresh(b, phone.refreshToken);
    expect(renewed.statusCode).toBe(200);
    await warm(renewed.json().accessToken);
  });

  it("logout everywhere ends every session of the caller at once on every replica; other users keep working", async () => {
    const user = await newUser("finance");
    const bystander = await newUser("finance");
    const laptop = (await login(a, user.email)).body;
    const phone = (await login(b, user.email)).body;
    const theirs = (await login(b, bystander.email)).body;
    for (const token of [laptop.accessToken, phone.accessToken, theirs.accessToken]) await warm(token);

    const out = await a.app.inject({
      method: "POST",
      url: "/api/v1/auth/logout-all",
      headers: auth(phone.accessToken),
    });
    expect(out.statusCode).toBe(204);
    for (const token of [laptop.accessToken, phone.accessToken]) {
      expectRevoked(await get(a, "/api/v1/invoices", token));
      await eventually401(b, "/api/v1/invoices", token);
    }
    for (const session of [laptop, phone]) {
      expect((await refresh(b, session.refreshToken)).statusCode).toBe(401);
    }
    await warm(theirs.accessToken);
    expect((await refresh(a, theirs.refreshToken)).statusCode).toBe(200);
    const again = (await login(b, user.email)).body;
    await warm(again.accessToken);
  });

  it("a replayed refresh token ends the session's live access token too (the thief's and the owner's)", async () => {
    const user = await newUser("viewer");
    const first = (await login(a, user.email)).body;
    const second = (await refresh(a, first.refreshToken)).json();
    await warm(second.accessToken);
    const replay = await refresh(a, first.refreshToken);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().detail).toContain("already used");
    expectRevoked(await get(a, "/api/v1/invoices", second.accessToken));
    await eventually401(b, "/api/v1/invoices", second.accessToken);
  });

  it("the revocation check makes no PostgreSQL round trip: a memoised token on a cached read touches no connection", async () => {
    const user = await newUser("viewer");
    const token = (await login(a, user.email)).body.accessToken as string;
    // until the in-process cache layer answers (the first read fills it)
    for (let i = 0; ; i++) {
      const res = await get(a, "/api/v1/invoices", token);
      expect(res.statusCode).toBe(200);
      if (res.headers["x-cache"] === "hit") break;
      if (i > 20) throw new Error("the invoice list is never served from the cache");
    }
    let checkouts = 0;
    const count = () => {
      checkouts++;
    };
    a.database.pool.on("acquire", count);
    try {
      for (let i = 0; i < 20; i++) {
        const res = await get(a, "/api/v1/invoices", token);
        expect(res.statusCode).toBe(200);
      }
      expect(checkouts).toBe(0);
      await patchUser(user.id, { disabled: true });
      checkouts = 0;
      expectRevoked(await get(a, "/api/v1/invoices", token));
      expect(checkouts).toBe(0);
    } finally {
      a.database.pool.off("acquire", count);
    }
  });
});

describe("a replica that was not listening", () => {
  it("heals a missed message at its periodic resync; one started after the revocation refuses the token from the start", async () => {
    // C shares the database but not the pub/sub channel (another QUEUE_PREFIX): it hears nothing
    otherPrefixes.push(testQueuePrefix("api-revoke-c"), testQueuePrefix("api-revoke-d"));
    const c = await startReplica(testDb, otherPrefixes[0] as string, 500);
    try {
      const user = await newUser("finance");
      const session = (await login(c, user.email)).body;
      expect((await get(c, "/api/v1/sync/runs", session.accessToken)).statusCode).toBe(200);
      await patchUser(user.id, { role: "viewer" });
      expectRevoked(await get(a, "/api/v1/sync/runs", session.accessToken));
      const waited = await eventually401(c, "/api/v1/sync/runs", session.accessToken);
      expect(waited).toBeLessThan(2500);

      const d = await startReplica(testDb, otherPrefixes[1] as string, 0);
      try {
        expectRevoked(await get(d, "/api/v1/sync/runs", session.accessToken));
      } finally {
        await d.close();
      }
    } finally {
      await c.close();
    }
  });
});
