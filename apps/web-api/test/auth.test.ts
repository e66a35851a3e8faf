import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { ConfigError } from "@finanzas/config";
import { freePort, startProcess, TEST_REDIS_URL } from "@finanzas/testing";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConfig } from "../src/config.js";
import {
  ADMIN_EMAIL,
  auth,
  createUser,
  PASSWORD,
  startTestApp,
  type TestApp,
  testConfig,
} from "./helpers.js";

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp("auth");
});
afterAll(() => t?.close());

const login = (email: string, password = PASSWORD, remoteAddress = "127.0.0.1") =>
  t.app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { email, password }, remoteAddress });
const refresh = (refreshToken: string) =>
  t.app.inject({ method: "POST", url: "/api/v1/auth/refresh", payload: { refreshToken } });
const me = (token: string) => t.app.inject({ method: "GET", url: "/api/v1/me", headers: auth(token) });

describe("login", () => {
  it("returns a 15-minute access token, a refresh token and the user; GET /me knows who it is", async () => {
    const res = await login("FINANCE@example.com");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      tokenType: "Bearer",
      expiresIn: 900,
      user: { email: "finance@example.com", role: "finance" },
    });
    expect((await me(body.accessToken)).json()).toMatchObject({
      email: "finance@example.com",
      role: "finance",
    });
  });

  it("answers a wrong password and an unknown email with the same 401", async () => {
    const wrong = await login("finance@example.com", "not the password");
    const unknown = await login("nobody@example.com", "not the password");
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json().detail).toBe(unknown.json().detail);
    expect(wrong.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("stores argon2id hashes, never the password", async () => {
    const { rows } = await t.database.pool.query("select password_hash from app.users where email = $1", [
      ADMIN_EMAIL,
    ]);
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
    expect(rows[0].password_hash).not.toContain(PASSWORD);
  });

  it("limits login attempts per client strictly, with a 429 problem and Retry-After", async () => {
    const limited = await startTestApp("auth_rl", {
      env: { LOGIN_RATE_LIMIT_MAX: "1000" },
      testDb: t.testDb,
    });
    await limited.close();
    const strict = await startTestApp("auth_rl2", {
      env: { LOGIN_RATE_LIMIT_MAX: "4", LOGIN_RATE_LIMIT_WINDOW_SECONDS: "900" },
      testDb: t.testDb,
    }).catch((e) => e as Error);
    // the helper logs in three users from 127.0.0.1; other addresses have their own budget
    expect(strict).not.toBeInstanceOf(Error);
    const app = (strict as TestApp).app;
    const attempt = () =>
      app.inject({
        method: "POST",
        url: "/api/v1/auth/login",
        payload: { email: "finance@example.com", password: "guess" },
        remoteAddress: "10.9.8.7",
      });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await attempt()).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 429, 429]);
    const last = await attempt();
    expect(last.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(last.headers["retry-after"])).toBeGreaterThan(0);
    // the right password does not get through either while limited
    const right = await app.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email: "finance@example.com", password: PASSWORD },
      remoteAddress: "10.9.8.7",
    });
    expect(right.statusCode).toBe(429);
    // other routes are not affected for that client
    const other = await app.inject({ method: "GET", url: "/health/live", remoteAddress: "10.9.8.7" });
    expect(other.statusCode).toBe(200);
    await (strict as TestApp).close();
  });
});

describe("access tokens", () => {
  it("expire after 15 minutes", async () => {
    const token = (await login("viewer@example.com")).json().accessToken;
    expect((await me(token)).statusCode).toBe(200);
    t.clock.now = Date.now() + 14 * 60_000;
    expect((await me(token)).statusCode).toBe(200);
    t.clock.now = Date.now() + 16 * 60_000;
    const expired = await me(token);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().detail).toContain("expired");
    expect(expired.headers["www-authenticate"]).toContain('error="invalid_token"');
    t.clock.now = Date.now();
  });

  it("refuses forged, tampered, alg=none and garbage tokens", async () => {
    const good = (await login("viewer@example.com")).json().accessToken as string;
    const [header, payload, signature] = good.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url")}.${signature}`;
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(
      JSON.stringify({ ...claims, role: "admin" }),
    ).toString("base64url")}.`;
    const otherKey = await new SignJWT({ role: "admin", email: "x@y.z" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(claims.sub)
      .setIssuer("finanzas-web-api")
      .setAudience("finanzas-api")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode("a-different-secret-that-is-long-enough-123"));
    for (const token of [tampered, none, otherKey, "garbage", `${good}x`]) {
      const res = await t.app.inject({ method: "GET", url: "/api/v1/users", headers: auth(token) });
      expect(res.statusCode, token).toBe(401);
    }
  });
});

describe("refresh tokens", () => {
  it("rotate: each works once; reusing a rotated one revokes the whole family", async () => {
    const first = (await login("finance@example.com")).json();
    const second = await refresh(first.refreshToken);
    expect(second.statusCode).toBe(200);
    const pair2 = second.json();
    expect(pair2.refreshToken).not.toBe(first.refreshToken);
    expect((await me(pair2.accessToken)).statusCode).toBe(200);
    const third = await refresh(pair2.refreshToken);
    expect(third.statusCode).toBe(200);
    const pair3 = third.json();

    // a thief replays the first token: refused, and the live token of the family dies with it
    const replay = await refresh(first.refreshToken);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().detail).toContain("already used");
    expect((await refresh(pair3.refreshToken)).statusCode).toBe(401);
    const { rows } = await t.database.pool.query(
      "select count(*) filter (where revoked_at is null)::int as live from app.refresh_tokens r join app.users u on u.id = r.user_id where u.email = 'finance@example.com' and r.family_id = (select family_id from app.refresh_tokens where token_hash = encode(sha256($1::bytea), 'hex'))",
      [pair3.refreshToken],
    );
    expect(rows[0].live).toBe(0);
    // other sessions of the same user are untouched
    const other = (await login("finance@example.com")).json();
    expect((await refresh(other.refreshToken)).statusCode).toBe(200);
  });

  it("are revoked by logout with the session's access token, and stored only as hashes", async () => {
    const pair = (await login("viewer@example.com")).json();
    expect((await me(pair.accessToken)).statusCode).toBe(200);
    const out = await t.app.inject({
      method: "POST",
      url: "/api/v1/auth/logout",
      payload: { refreshToken: pair.refreshToken },
    });
    expect(out.statusCode).toBe(204);
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    const after = await me(pair.accessToken);
    expect(after.statusCode).toBe(401);
    expect(after.json().detail).toBe("token revoked: sign in again");
    // the viewer's other session (logged in by the test helper) is untouched
    expect((await me(t.tokens.viewer)).statusCode).toBe(200);
    const { rows } = await t.database.pool.query(
      "select count(*)::int as n from app.refresh_tokens where token_hash = $1",
      [pair.refreshToken],
    );
    expect(rows[0].n).toBe(0);
    expect((await refresh("x".repeat(43))).statusCode).toBe(401);
  });

  it("stop working when the admin disables the user, who can no longer log in", async () => {
    const created = await t.app.inject({
      method: "POST",
      url: "/api/v1/users",
      headers: auth(t.tokens.admin),
      payload: { email: "temp@example.com", password: PASSWORD, role: "viewer", name: "Temp" },
    });
    expect(created.statusCode).toBe(201);
    const pair = (await login("temp@example.com")).json();
    const disabled = await t.app.inject({
      method: "PATCH",
      url: `/api/v1/users/${created.json().id}`,
      headers: auth(t.tokens.admin),
      payload: { disabled: true },
    });
    expect(disabled.json()).toMatchObject({ disabled: true });
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    expect((await login("temp@example.com")).statusCode).toBe(401);
    const revoked = await me(pair.accessToken);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().detail).toBe("token revoked: sign in again");
    // role change by the admin
    const promoted = await t.app.inject({
      method: "PATCH",
      url: `/api/v1/users/${created.json().id}`,
      headers: auth(t.tokens.admin),
      payload: { disabled: false, role: "finance" },
    });
    expect(promoted.json()).toMatchObject({ role: "finance", disabled: false });
    expect((await login("temp@example.com")).json().user.role).toBe("finance");
    const dup = await t.app.inject({
      method: "POST",
      url: "/api/v1/users",
      headers: auth(t.tokens.admin),
      payload: { email: "TEMP@example.com", password: PASSWORD, role: "viewer" },
    });
    expect(dup.statusCode).toBe(409);
    const list = (
      await t.app.inject({ method: "GET", url: "/api/v1/users", headers: auth(t.tokens.admin) })
    ).json();
    expect(list.items.map((u: { email: string }) => u.email)).toContain("temp@example.com");
  });
});

describe("logout everywhere", () => {
  const logoutAll = (token?: string) =>
    t.app.inject({
      method: "POST",
      url: "/api/v1/auth/logout-all",
      ...(token ? { headers: auth(token) } : {}),
    });
  const newUser = (role: "finance" | "viewer") => createUser(t, role, "everywhere");
  const liveRefreshTokens = async (userId: string) =>
    (
      await t.database.pool.query(
        "select count(*) filter (where revoked_at is null)::int as live from app.refresh_tokens where user_id = $1",
        [userId],
      )
    ).rows[0].live as number;

  it.each(["viewer", "finance", "admin"] as const)(
    "%s: ends every session and access token of the caller (204), nobody else's; logging in again works",
    async (role) => {
      const email = role === "admin" ? ADMIN_EMAIL : `${role}@example.com`;
      const id = (await me(t.tokens[role])).json().id as string;
      const laptop = (await login(email)).json();
      const phone = (await login(email)).json();
      // one more rotation on the phone: its family has a rotated token and a live one
      const phoneNow = (await refresh(phone.refreshToken)).json();
      const otherRole = role === "viewer" ? "finance" : "viewer";
      const other = (await login(`${otherRole}@example.com`)).json();
      for (const token of [laptop.accessToken, phoneNow.accessToken, t.tokens[role]])
        expect((await me(token)).statusCode).toBe(200);
      const { rows: before } = await t.database.pool.query(
        "select token_version from app.users where id = $1",
        [id],
      );

      const out = await logoutAll(laptop.accessToken);
      expect(out.statusCode, out.body).toBe(204);
      expect(out.body).toBe("");

      // every access token issued to the user before now (the helper's session's too): 401 with
      // the revocation problem
      for (const token of [laptop.accessToken, phone.accessToken, phoneNow.accessToken, t.tokens[role]]) {
        const res = await me(token);
        expect(res.statusCode).toBe(401);
        expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
        expect(res.json().detail).toBe("token revoked: sign in again");
        expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
      }
      // every refresh token of the user, rotated or not: 401
      for (const token of [laptop.refreshToken, phone.refreshToken, phoneNow.refreshToken]) {
        expect((await refresh(token)).statusCode).toBe(401);
      }
      expect(await liveRefreshTokens(id)).toBe(0);
      const { rows: after } = await t.database.pool.query(
        "select token_version, tokens_revoked_at from app.users where id = $1",
        [id],
      );
      expect(after[0].token_version).toBe(before[0].token_version + 1);
      expect(Date.now() - new Date(after[0].tokens_revoked_at).getTime()).toBeLessThan(60_000);
      // the revoked token cannot do it again
      expect((await logoutAll(laptop.accessToken)).statusCode).toBe(401);

      // other users' sessions are untouched
      expect((await me(other.accessToken)).statusCode).toBe(200);
      expect((await me(t.tokens[otherRole])).statusCode).toBe(200);
      expect((await refresh(other.refreshToken)).statusCode).toBe(200);

      // logging in again works, and so does refreshing the new session
      const again = await login(email);
      expect(again.statusCode).toBe(200);
      expect((await me(again.json().accessToken)).json()).toMatchObject({ id, role });
      const renewed = await refresh(again.json().refreshToken);
      expect(renewed.statusCode).toBe(200);
      expect((await me(renewed.json().accessToken)).statusCode).toBe(200);
      t.tokens[role] = renewed.json().accessToken;
    },
  );

  it("needs an access token", async () => {
    const res = await logoutAll();
    expect(res.statusCode).toBe(401);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("leaves nothing alive when refreshes race it", async () => {
    const user = await newUser("viewer");
    const sessions = await Promise.all(
      Array.from({ length: 6 }, async () => (await login(user.email)).json()),
    );
    const token = sessions[0].accessToken as string;
    const [out, ...refreshed] = await Promise.all([
      logoutAll(token),
      ...sessions.map((s) => refresh(s.refreshToken)),
    ]);
    expect(out?.statusCode).toBe(204);
    // a refresh that won the race got a pair; neither half of it works once the logout is done
    for (const res of refreshed) {
      if (res.statusCode !== 200) {
        expect(res.statusCode).toBe(401);
        continue;
      }
      const pair = res.json();
      expect((await me(pair.accessToken)).statusCode).toBe(401);
      expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    }
    expect(await liveRefreshTokens(user.id)).toBe(0);
  });
});

describe("start-up", () => {
  it("creates the first admin only when no admin exists", async () => {
    const again = await startTestApp("auth_admin", {
      env: { ADMIN_EMAIL: "second@example.com" },
      testDb: t.testDb,
    });
    await again.close();
    const { rows } = await t.database.pool.query("select email from app.users where role = 'admin'");
    expect(rows.map((r) => r.email)).toEqual([ADMIN_EMAIL]);
  });

  it("refuses production without a strong JWT_SECRET; outside production generates one", async () => {
    expect(() => checkConfig({ ...testConfig(), NODE_ENV: "production", JWT_SECRET: undefined })).toThrow(
      ConfigError,
    );
    expect(() =>
      checkConfig({ ...testConfig(), NODE_ENV: "production", JWT_SECRET: "a".repeat(40) }),
    ).toThrow(/JWT_SECRET is too guessable/);
    // Strong values of this run's own: anything written in this file is published with it.
    const production = {
      ...testConfig(),
      NODE_ENV: "production" as const,
      JWT_SECRET: randomBytes(48).toString("base64"),
      MAIL_UNSUBSCRIBE_SECRET: randomBytes(48).toString("base64"),
      ADMIN_PASSWORD: randomBytes(18).toString("base64"),
    };
    expect(checkConfig(production)).toBeTruthy();
    // the test's own (published) secret and admin password are refused there
    expect(() => checkConfig({ ...production, JWT_SECRET: testConfig().JWT_SECRET })).toThrow(
      /JWT_SECRET equals or derives from a value published in the web-api tests/,
    );
    expect(() => checkConfig({ ...production, ADMIN_PASSWORD: PASSWORD })).toThrow(
      /ADMIN_PASSWORD equals or derives from a value published/,
    );
    // the unsubscribe links' secret is required there too (outside production: a random one)
    expect(() => checkConfig({ ...production, MAIL_UNSUBSCRIBE_SECRET: undefined })).toThrow(
      /MAIL_UNSUBSCRIBE_SECRET is required with NODE_ENV=production/,
    );
    expect(
      checkConfig({ ...production, NODE_ENV: "development", MAIL_UNSUBSCRIBE_SECRET: undefined }),
    ).toBeTruthy();
    const weak = "changeme-changeme-changeme-changeme";
    const entry = fileURLToPath(new URL("../dist/main.js", import.meta.url));
    const proc = startProcess(entry, {
      NODE_ENV: "production",
      PORT: String(await freePort()),
      DATABASE_URL: t.testDb.url,
      REDIS_URL: TEST_REDIS_URL,
      JWT_SECRET: weak,
    });
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(proc.output()).toContain("JWT_SECRET equals or derives from a value published");
    expect(proc.output()).toContain("MAIL_UNSUBSCRIBE_SECRET is required with NODE_ENV=production");
    expect(proc.output()).not.toContain("changeme-changeme");
  });
});
