import { randomUUID } from "node:crypto";
import { ApiError, createApiClient, type Session } from "@finanzas/api-client";
import { ACCESS_TOKEN_PROBLEM_TYPES, type Role } from "@finanzas/contracts";
import { unsubscribeToken } from "@finanzas/mail";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_EMAIL, auth, createUser, PASSWORD, startTestApp, type TestApp } from "./helpers.js";

let t: TestApp;
/** The app listening on a port of its own: the client's calls go over real HTTP. */
let baseUrl: string;

const UNSUBSCRIBE_SECRET = "client-test-unsubscribe-secret-0123456789";

beforeAll(async () => {
  t = await startTestApp("client", { env: { MAIL_UNSUBSCRIBE_SECRET: UNSUBSCRIBE_SECRET } });
  baseUrl = await t.app.listen({ port: 0, host: "127.0.0.1" });
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

describe("@finanzas/api-client: the mail API", () => {
  it("starts, reads and cancels mailings, edits templates, keeps the suppression list, and unsubscribes by link", async () => {
    const api = createApiClient({ baseUrl, fetch: injectFetch });
    await api.login("finance@example.com", PASSWORD);

    // no mailer runs in this suite: the mailing waits in `planning`, which may still be cancelled
    const accepted = await api.call("createMailing", { body: { kind: "reminder", dryRun: true } });
    expect(accepted).toMatchObject({ status: "planning", dryRun: true });
    const mailing = await api.call("getMailing", { params: { id: accepted.mailingId } });
    expect(mailing).toMatchObject({ kind: "reminder", status: "planning", progress: 0, total: 0 });
    expect(mailing.counts.queued).toBe(0);
    const list = await api.call("listMailings", { query: { kind: "reminder", limit: 10 } });
    expect(list.items.map((m) => m.id)).toContain(accepted.mailingId);
    const messages = await api.call("listMailingMessages", {
      params: { id: accepted.mailingId },
      query: { state: "failed" },
    });
    expect(messages).toEqual({ items: [], next: null });
    const cancelled = await api.call("cancelMailing", { params: { id: accepted.mailingId } });
    expect(cancelled.status).toBe("cancelled");
    const again = await api
      .call("cancelMailing", { params: { id: accepted.mailingId } })
      .catch((e: unknown) => e);
    expect((again as ApiError).status).toBe(409);
    const resend = await api
      .call("resendMailMessage", { params: { id: accepted.mailingId, messageId: randomUUID() } })
      .catch((e: unknown) => e);
    expect((resend as ApiError).status).toBe(404);
    const invalid = await api
      .call("createMailing", { body: { kind: "custom", partnerIds: [1] } as never })
      .catch((e: unknown) => e);
    expect((invalid as ApiError).problem.errors).toEqual([
      { field: "body.templateId", message: "is required" },
    ]);

    const template = await api.call("createMailTemplate", {
      body: {
        key: "client-note",
        kind: "custom",
        lang: "en",
        name: "Note",
        subject: "Hi {{ partner.name }}",
        html: "<p>Hi</p>",
      },
    });
    expect(template).toMatchObject({ key: "client-note", builtin: false, text: null });
    const updated = await api.call("updateMailTemplate", {
      params: { id: template.id },
      body: { text: "Hi {{ partner.name }}" },
    });
    expect(updated.text).toBe("Hi {{ partner.name }}");
    expect((await api.call("getMailTemplate", { params: { id: template.id } })).name).toBe("Note");
    expect((await api.call("listMailTemplates")).items.map((x) => x.id)).toContain(template.id);

    const added = await api.call("createSuppression", { body: { email: "client@example.com" } });
    expect(added).toMatchObject({ email: "client@example.com", reason: "manual", detail: null });
    expect((await api.call("listSuppressions")).items.map((x) => x.email)).toEqual(["client@example.com"]);
    expect(await api.call("deleteSuppression", { params: { email: "client@example.com" } })).toBeNull();

    // the public link: a page for a browser, a suppression for the one-click POST
    const token = unsubscribeToken(UNSUBSCRIBE_SECRET, {
      email: "reader@example.com",
      messageId: randomUUID(),
    });
    const anonymous = createApiClient({ baseUrl, fetch: injectFetch });
    const page = await anonymous.call("unsubscribePage", { query: { token } });
    expect(page).toContain("reader@example.com");
    expect((await api.call("listSuppressions")).items).toEqual([]);
    expect(await anonymous.call("unsubscribe", { query: { token } })).toContain("reader@example.com");
    expect((await api.call("listSuppressions")).items).toMatchObject([
      { email: "reader@example.com", reason: "unsubscribed" },
    ]);
    const tampered = await anonymous
      .call("unsubscribe", { query: { token: `${token}x` } })
      .catch((e: unknown) => e);
    expect((tampered as ApiError).status).toBe(400);
    expect((tampered as ApiError).problem.errors?.[0]?.field).toBe("query.token");

    const viewer = createApiClient({ baseUrl, fetch: injectFetch });
    await viewer.login("viewer@example.com", PASSWORD);
    expect(((await viewer.call("listMailings").catch((e: unknown) => e)) as ApiError).status).toBe(403);
  });
});

describe("@finanzas/api-client: a refused access token", () => {
  afterEach(() => {
    t.clock.now = Date.now();
  });

  const newUser = (role: Role) => createUser(t, role, "client");

  /**
   * A client over the network, counting its refresh exchanges, and every session it reports.
   * `hold` may keep a response back until a promise settles (a 401 that arrives late).
   */
  const client = (
    options: { session?: Session; hold?: (url: URL, init?: RequestInit) => Promise<void> } = {},
  ) => {
    const counts = { refresh: 0 };
    const sessions: (Session | null)[] = [];
    const api = createApiClient({
      baseUrl,
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        const url = new URL(String(input));
        if (url.pathname === "/api/v1/auth/refresh") counts.refresh++;
        const response = await fetch(input, init);
        await options.hold?.(url, init);
        return response;
      }) as typeof fetch,
      onSession: (session) => sessions.push(session),
      ...(options.session ? { session: options.session } : {}),
    });
    return { api, counts, sessions };
  };

  /** A new user of `role`, logged in through a fresh client; `first` is the session login gave. */
  const signedIn = async (role: Role) => {
    const user = await newUser(role);
    const c = client();
    await c.api.login(user.email, PASSWORD);
    return { user, ...c, first: c.api.session! };
  };

  /** How many refresh tokens the session (refresh-token family) of this token has had. */
  const familySize = async (refreshToken: string) =>
    (
      await t.database.pool.query(
        "select count(*)::int as n from app.refresh_tokens where family_id = (select family_id from app.refresh_tokens where token_hash = encode(sha256($1::bytea), 'hex'))",
        [refreshToken],
      )
    ).rows[0].n as number;

  it("expired on the server (the client's clock disagrees): refreshed once, the call answers, onSession sees the new pair", async () => {
    const { user, api, counts, sessions, first } = await signedIn("viewer");
    // the server's clock is past the token's expiry; the client's still thinks it has 15 minutes
    t.clock.now = Date.now() + 16 * 60_000;
    const refused = await fetch(`${baseUrl}/api/v1/me`, { headers: auth(first.accessToken) });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({
      type: "urn:finanzas:problem:access-token-expired",
      detail: "the access token has expired: refresh it",
    });

    expect((await api.call("me")).email).toBe(user.email);
    expect(counts.refresh).toBe(1);
    expect(sessions).toHaveLength(2); // login, refresh
    expect(sessions[1]).toEqual(api.session);
    expect(api.session!.refreshToken).not.toBe(first.refreshToken);
    expect(api.session!.accessToken).not.toBe(first.accessToken);
    expect(await familySize(first.refreshToken)).toBe(2);
    // the new token is used from now on: no further exchange
    expect((await api.call("me")).email).toBe(user.email);
    expect(counts.refresh).toBe(1);
  });

  it("revoked while its refresh token is still good: refreshed once, the call answers", async () => {
    const { user, api, counts, sessions, first } = await signedIn("finance");
    // the user's access tokens are revoked (token_version, on every replica), its sessions are not
    const { rows } = await t.database.pool.query(
      "update app.users set token_version = token_version + 1, tokens_revoked_at = now() where id = $1 returning token_version",
      [user.id],
    );
    await t.built.revocations.userRevoked(user.id, rows[0].token_version);
    const refused = await fetch(`${baseUrl}/api/v1/sync/state`, { headers: auth(first.accessToken) });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({
      type: "urn:finanzas:problem:access-token-revoked",
      detail: "token revoked: sign in again",
    });

    expect(await api.call("syncState")).toBeDefined();
    expect(counts.refresh).toBe(1);
    expect(sessions).toHaveLength(2);
    expect(api.session!.refreshToken).not.toBe(first.refreshToken);
    expect(await familySize(first.refreshToken)).toBe(2);
  });

  it("calls refused together share one refresh, a POST included, which runs once", async () => {
    const { user, api, counts, sessions, first } = await signedIn("admin");
    t.clock.now = Date.now() + 16 * 60_000;
    const email = `parallel-${randomUUID().slice(0, 8)}@example.com`;
    const [me1, list, created, me2, list2, me3] = await Promise.all([
      api.call("me"),
      api.call("listUsers"),
      api.call("createUser", { body: { email, password: PASSWORD, role: "viewer" } }),
      api.call("me"),
      api.call("listUsers"),
      api.call("me"),
    ]);
    for (const me of [me1, me2, me3]) expect(me.email).toBe(user.email);
    expect(list.items.length).toBeGreaterThan(0);
    expect(list2.items.length).toBeGreaterThan(0);
    expect(created.email).toBe(email);
    expect(counts.refresh).toBe(1);
    expect(sessions).toHaveLength(2);
    expect(await familySize(first.refreshToken)).toBe(2);
    // the POST was refused before it ran, then ran once
    const { rows } = await t.database.pool.query(
      "select count(*)::int as n from app.users where email = $1",
      [email],
    );
    expect(rows[0].n).toBe(1);
  });

  it("a 401 that arrives after another call refreshed retries with the new token, without a second refresh", async () => {
    const user = await newUser("finance");
    let refreshed!: () => void;
    const afterRefresh = new Promise<void>((resolve) => {
      refreshed = resolve;
    });
    const { api, counts, sessions } = client({
      // the late call's refused answer is held back until the other call's refresh is done
      hold: async (url, init) => {
        const sentWith = (init?.headers as Record<string, string> | undefined)?.authorization;
        if (url.pathname === "/api/v1/me" && sentWith === `Bearer ${first.accessToken}`) await afterRefresh;
      },
    });
    await api.login(user.email, PASSWORD);
    const first = api.session!;
    t.clock.now = Date.now() + 16 * 60_000;
    const late = api.call("me");
    const early = api.call("syncState").then((state) => {
      refreshed();
      return state;
    });
    const [me, state] = await Promise.all([late, early]);
    expect(me.email).toBe(user.email);
    expect(state).toBeDefined();
    expect(counts.refresh).toBe(1);
    expect(sessions).toHaveLength(2);
    expect(await familySize(first.refreshToken)).toBe(2);
  });

  it("a revoked refresh token (logout everywhere on another device): the call's own 401 surfaces, the session ends", async () => {
    const user = await newUser("viewer");
    const { api, counts, sessions } = client();
    await api.login(user.email, PASSWORD);
    const elsewhere = client();
    await elsewhere.api.login(user.email, PASSWORD);
    await elsewhere.api.logoutAll();
    expect(elsewhere.api.session).toBeNull();

    const error = await api.call("me").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect((error as ApiError).problem.detail).toBe("token revoked: sign in again");
    expect(counts.refresh).toBe(1);
    expect(api.session).toBeNull();
    expect(sessions.at(-1)).toBeNull();
    // logging in again works
    await api.login(user.email, PASSWORD);
    expect((await api.call("me")).email).toBe(user.email);
  });

  it("changes the password and carries on with the new pair; the user's other sessions end", async () => {
    const user = await newUser("viewer");
    const { api, sessions } = client();
    await api.login(user.email, PASSWORD);
    const elsewhere = client();
    await elsewhere.api.login(user.email, PASSWORD);
    const before = api.session!;
    const newPassword = randomUUID();

    const wrong = await api.changePassword(`${PASSWORD}!`, newPassword).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ApiError);
    expect((wrong as ApiError).status).toBe(400);
    expect(api.session).toBe(before);

    const tokens = await api.changePassword(PASSWORD, newPassword);
    expect(tokens.user.mustChangePassword).toBe(false);
    expect(api.session).not.toBe(before);
    expect(sessions.at(-1)?.accessToken).toBe(tokens.accessToken);
    expect((await api.call("me")).email).toBe(user.email);
    // the other device: its access token is revoked and its refresh refused, so it is signed out
    const error = await elsewhere.api.call("me").catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(401);
    expect(elsewhere.api.session).toBeNull();
    await expect(api.login(user.email, PASSWORD)).rejects.toBeInstanceOf(ApiError);
    expect((await api.login(user.email, newPassword)).user.email).toBe(user.email);
  });

  it("expired, and the refresh is refused: the expired 401 surfaces, not the refresh's", async () => {
    const { user, api, counts } = await signedIn("viewer");
    await t.database.pool.query("update app.refresh_tokens set revoked_at = now() where user_id = $1", [
      user.id,
    ]);
    t.clock.now = Date.now() + 16 * 60_000;
    const error = await api.call("me").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect((error as ApiError).problem.detail).toBe("the access token has expired: refresh it");
    expect(counts.refresh).toBe(1);
    expect(api.session).toBeNull();
  });

  it("retries once: when the new token is refused too, that 401 surfaces without a second refresh", async () => {
    const { user, api, counts } = await signedIn("viewer");
    // the session's access tokens are revoked, here only (not its refresh tokens): every token the
    // refresh gives back belongs to the same session and is refused as well
    const { rows } = await t.database.pool.query(
      "select family_id from app.refresh_tokens where user_id = $1",
      [user.id],
    );
    await t.built.revocations.sessionRevoked(rows[0].family_id);
    const error = await api.call("me").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).problem.detail).toBe("token revoked: sign in again");
    expect(counts.refresh).toBe(1);
  });

  it("does not refresh on other 401s (an invalid token)", async () => {
    const user = await newUser("viewer");
    const { api: owner } = client();
    await owner.login(user.email, PASSWORD);
    const { api, counts } = client({
      session: { ...owner.session!, accessToken: "not-a-jwt", expiresAt: Date.now() + 600_000 },
    });
    const error = await api.call("me").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).problem).toMatchObject({
      type: ACCESS_TOKEN_PROBLEM_TYPES.invalid,
      detail: "the access token is invalid",
    });
    expect(counts.refresh).toBe(0);
    expect(api.session).not.toBeNull();
  });

  it("refreshes on the problem's type, whatever its detail says", async () => {
    const user = await newUser("viewer");
    const counts = { refresh: 0 };
    // A server whose 401 details are reworded (another language, a later version): only the type stays.
    const api = createApiClient({
      baseUrl,
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        if (new URL(String(input)).pathname === "/api/v1/auth/refresh") counts.refresh++;
        const response = await fetch(input, init);
        if (response.status !== 401) return response;
        const problem = (await response.json()) as Record<string, unknown>;
        return new Response(JSON.stringify({ ...problem, detail: "Zugriffstoken abgelaufen" }), {
          status: 401,
          headers: response.headers,
        });
      }) as typeof fetch,
    });
    await api.login(user.email, PASSWORD);
    t.clock.now = Date.now() + 16 * 60_000;
    expect((await api.call("me")).email).toBe(user.email);
    expect(counts.refresh).toBe(1);
  });
});
