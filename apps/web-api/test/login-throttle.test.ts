import { type RedisInstance, startRedis } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, PASSWORD, startTestApp, type TestApp } from "./helpers.js";

/*
 * The login throttle (src/auth/login-throttle.ts): failed sign-ins per address and per account, one
 * budget for the API's login and the queue dashboard's form, answered 429 problem+json with
 * Retry-After, and still enforced while Redis is down.
 */

const MAX = 3;
const env = { LOGIN_RATE_LIMIT_MAX: String(MAX), LOGIN_RATE_LIMIT_WINDOW_SECONDS: "900" };

const apiLogin = (t: TestApp, email: string, password: string, remoteAddress: string) =>
  t.app.inject({
    method: "POST",
    url: "/api/v1/auth/login",
    payload: { email, password },
    remoteAddress,
  });

const formLogin = (t: TestApp, email: string, password: string, remoteAddress: string) =>
  t.app.inject({
    method: "POST",
    url: "/admin/login",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: new URLSearchParams({ email, password }).toString(),
    remoteAddress,
  });

describe("login throttle", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp("throttle", { env });
  });
  afterAll(() => t?.close());

  it("refuses an address after MAX failures, whatever the accounts, with 429 problem+json and Retry-After", async () => {
    const address = "10.20.0.1";
    const codes: number[] = [];
    for (let i = 0; i < MAX; i++) {
      codes.push((await apiLogin(t, `nobody${i}@example.com`, "guess", address)).statusCode);
    }
    expect(codes).toEqual([401, 401, 401]);
    const refused = await apiLogin(t, "someone-else@example.com", "guess", address);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(refused.json()).toMatchObject({ status: 429, title: "Too Many Requests" });
    expect(refused.json().detail).toMatch(/too many failed sign-ins/);
    // a right password from that address is refused too, and other addresses are not affected
    const { email } = await createUser(t, "viewer", "addr");
    expect((await apiLogin(t, email, PASSWORD, address)).statusCode).toBe(429);
    expect((await apiLogin(t, email, PASSWORD, "10.20.0.2")).statusCode).toBe(200);
  });

  it("refuses an account after MAX failures, whatever the addresses, its right password included", async () => {
    const { email } = await createUser(t, "finance", "acct");
    for (let i = 0; i < MAX; i++) {
      expect((await apiLogin(t, email, "guess", `10.21.0.${i + 1}`)).statusCode).toBe(401);
    }
    const refused = await apiLogin(t, email.toUpperCase(), PASSWORD, "10.21.1.1");
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    // other accounts from those addresses still sign in
    const other = await createUser(t, "finance", "acct-other");
    expect((await apiLogin(t, other.email, PASSWORD, "10.21.0.1")).statusCode).toBe(200);
  });

  it("shares one budget between the API's login and the queue dashboard's form", async () => {
    const address = "10.22.0.1";
    expect((await formLogin(t, "nobody@example.com", "guess", address)).statusCode).toBe(401);
    expect((await apiLogin(t, "nobody@example.com", "guess", address)).statusCode).toBe(401);
    expect((await formLogin(t, "nobody@example.com", "guess", address)).statusCode).toBe(401);
    const api = await apiLogin(t, "admin@example.com", PASSWORD, address);
    expect(api.statusCode).toBe(429);
    const form = await formLogin(t, "admin@example.com", PASSWORD, address);
    expect(form.statusCode).toBe(429);
    expect(form.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(form.headers["retry-after"])).toBeGreaterThan(0);
    // a browser gets the form again, with the wait
    const page = await t.app.inject({
      method: "POST",
      url: "/admin/login",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      payload: "email=admin%40example.com&password=x",
      remoteAddress: address,
    });
    expect(page.statusCode).toBe(429);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toMatch(/try again in \d+ s/);
  });

  it("spends the budget on failures only: people who sign in correctly never lock each other out", async () => {
    const address = "10.23.0.1"; // an office behind one address
    const { email } = await createUser(t, "viewer", "office");
    for (let i = 0; i < 3 * MAX; i++) {
      expect((await apiLogin(t, email, PASSWORD, address)).statusCode).toBe(200);
    }
    // and a success clears the account's failures
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < MAX - 1; i++) {
        expect((await apiLogin(t, email, "typo", `10.23.1.${round * 10 + i}`)).statusCode).toBe(401);
      }
      expect((await apiLogin(t, email, PASSWORD, "10.23.2.1")).statusCode).toBe(200);
    }
  });

  it("counts concurrent guesses before checking them: a burst gets MAX answers and the rest 429", async () => {
    const address = "10.24.0.1";
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) => apiLogin(t, `burst${i}@example.com`, "guess", address)),
    );
    const codes = burst.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 401)).toHaveLength(MAX);
    expect(codes.filter((c) => c === 429)).toHaveLength(12 - MAX);
  });
});

describe("login throttle while Redis is down", () => {
  let redis: RedisInstance;
  let t: TestApp;
  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestApp("throttle_down", { env, redisUrl: redis.url });
  });
  afterAll(async () => {
    await redis?.start().catch(() => {});
    await t?.close();
    await redis?.close();
  });

  it("goes on refusing guesses with the counts kept in process, answers at once, and keeps them when Redis is back", async () => {
    const address = "10.30.0.1";
    // one failure counted while Redis is up
    expect((await apiLogin(t, "nobody@example.com", "guess", address)).statusCode).toBe(401);
    await redis.stop();
    const started = Date.now();
    const codes: number[] = [];
    for (let i = 0; i < MAX + 1; i++) {
      codes.push((await apiLogin(t, `nobody${i}@example.com`, "guess", address)).statusCode);
    }
    expect(codes).toEqual([401, 401, 429, 429]);
    // per account too
    const { email } = await createUser(t, "viewer", "down");
    for (let i = 0; i < MAX; i++) {
      expect((await apiLogin(t, email, "guess", `10.31.0.${i + 1}`)).statusCode).toBe(401);
    }
    const refused = await apiLogin(t, email, PASSWORD, "10.31.1.1");
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    // a right password from a fresh address still signs in: logins do not need Redis
    const ok = await apiLogin(t, "admin@example.com", PASSWORD, "10.32.0.1");
    expect(ok.statusCode).toBe(200);
    // nothing waited for the stopped Redis (generous bound for a loaded machine: ~10 argon2 checks)
    expect(Date.now() - started).toBeLessThan(15_000);

    await redis.start();
    // Redis came back empty (no persistence): the address's window seen in process still holds
    const again = await apiLogin(t, "nobody@example.com", "guess", address);
    expect(again.statusCode).toBe(429);
  });
});
