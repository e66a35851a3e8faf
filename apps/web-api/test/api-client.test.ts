import { ApiError, createApiClient } from "@finanzas/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_EMAIL, PASSWORD, startTestApp, type TestApp } from "./helpers.js";

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp("client");
});
afterAll(() => t?.close());

/** fetch over app.inject: the client runs exactly as in a browser, minus the network. */
const injectFetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const url = new URL(String(input));
  const res = await t.app.inject({
    method: (init?.method ?? "GET") as "GET",
    url: `${url.pathname}${url.search}`,
    headers: init?.headers as Record<string, string>,
    ...(init?.body ? { payload: String(init.body) } : {}),
  });
  return new Response(res.statusCode === 204 || res.statusCode === 304 ? null : res.body, {
    status: res.statusCode,
    headers: res.headers as Record<string, string>,
  });
}) as typeof fetch;

describe("@finanzas/api-client", () => {
  it("logs in, calls typed routes, refreshes an expired access token and surfaces problems", async () => {
    const api = createApiClient({ baseUrl: "http://api.test", fetch: injectFetch });
    const tokens = await api.login(ADMIN_EMAIL, PASSWORD);
    expect(tokens.user.role).toBe("admin");
    const me = await api.call("me");
    expect(me.email).toBe(ADMIN_EMAIL);
    const users = await api.call("listUsers");
    expect(users.items.length).toBeGreaterThanOrEqual(3);

    // an expired access token is refreshed transparently
    const before = api.session!.refreshToken;
    t.clock.now = Date.now() + 20 * 60_000;
    expect((await api.call("me")).email).toBe(ADMIN_EMAIL);
    expect(api.session!.refreshToken).not.toBe(before);
    t.clock.now = Date.now();

    const error = await api
      .call("createUser", { body: { email: "x@y.co", password: "short", role: "viewer" } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).problem.errors?.[0]?.field).toBe("body.password");

    await api.logout();
    expect(api.session).toBeNull();
  });
});
