import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { apiRoutes } from "@finanzas/contracts";
import { ensureModelTables, OPEN_ITEM_SOURCES } from "@finanzas/ledger";
import { markSynced } from "@finanzas/testing";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessRuleProblems } from "../src/app.js";
import { ADMIN_EMAIL, auth, PASSWORD, startTestApp, type TestApp } from "./helpers.js";

/*
 * Who may call what: every route the app serves × every identity (none, viewer, finance, admin).
 * The table below is the policy; a route the app serves without an entry here fails the test, so a
 * new route cannot ship without its access being decided and tested.
 */

type Who = "public" | "admin" | "finance" | "viewer";
const ALL: Who[] = ["admin", "finance", "viewer"];
const SYNC: Who[] = ["admin", "finance"];
const ADMIN: Who[] = ["admin"];
const MAIL: Who[] = ["admin", "finance"];

/** "METHOD /path" (Fastify pattern) → who is allowed; a trailing * matches a prefix. */
const POLICY: Record<string, Who[] | "public"> = {
  "GET /health/live": "public",
  "GET /health/ready": "public",
  "GET /openapi.json": "public",
  "GET /docs*": "public",
  "GET /metrics": ADMIN,
  "POST /api/v1/auth/login": "public",
  "POST /api/v1/auth/refresh": "public",
  "POST /api/v1/auth/logout": "public",
  "POST /api/v1/auth/logout-all": ALL,
  "POST /api/v1/auth/password": ALL,
  "GET /api/v1/me": ALL,
  "GET /api/v1/users": ADMIN,
  "POST /api/v1/users": ADMIN,
  "PATCH /api/v1/users/:id": ADMIN,
  "GET /api/v1/partners": ALL,
  "GET /api/v1/partners/:id": ALL,
  "GET /api/v1/invoices": ALL,
  "GET /api/v1/invoices/:id": ALL,
  "GET /api/v1/payments": ALL,
  "GET /api/v1/accounts": ALL,
  "GET /api/v1/journal-items": ALL,
  "GET /api/v1/aging": ALL,
  "GET /api/v1/dashboard": ALL,
  "POST /api/v1/sync/runs": SYNC,
  "GET /api/v1/sync/runs": SYNC,
  "GET /api/v1/sync/runs/:id": SYNC,
  "GET /api/v1/sync/state": SYNC,
  "POST /api/v1/sync/records": SYNC,
  "GET /api/v1/mailings": MAIL,
  "POST /api/v1/mailings": MAIL,
  "GET /api/v1/mailings/:id": MAIL,
  "GET /api/v1/mailings/:id/messages": MAIL,
  "POST /api/v1/mailings/:id/cancel": MAIL,
  "POST /api/v1/mailings/:id/messages/:messageId/resend": MAIL,
  "GET /api/v1/mail/templates": MAIL,
  "POST /api/v1/mail/templates": MAIL,
  "GET /api/v1/mail/templates/:id": MAIL,
  "PATCH /api/v1/mail/templates/:id": MAIL,
  "POST /api/v1/mail/templates/:id/preview": MAIL,
  "POST /api/v1/mail/templates/preview": MAIL,
  "POST /api/v1/mail/templates/:id/test": MAIL,
  "GET /api/v1/mail/suppressions": MAIL,
  "POST /api/v1/mail/suppressions": MAIL,
  "DELETE /api/v1/mail/suppressions/:email": MAIL,
  "POST /api/v1/mail/unsubscribe": "public",
  "GET /api/v1/mail/unsubscribe": "public",
  "POST /api/v1/reports": ALL,
  "GET /api/v1/reports": ALL,
  "GET /api/v1/reports/:id": ALL,
  "GET /api/v1/reports/:id/file": ALL,
  "DELETE /api/v1/reports/:id": ALL,
  "GET /admin/login": "public",
  "POST /admin/login": "public",
  "GET /admin/queues/logout": "public",
  "POST /admin/queues/logout": "public",
  "GET /admin/queues*": ADMIN,
  "PUT /admin/queues*": ADMIN,
  "PATCH /admin/queues*": ADMIN,
  "POST /admin/queues*": ADMIN,
};

/** Routes that end every session and access token of the caller: after an allowed call, log in again. */
const ENDS_CALLERS_SESSIONS = new Set(["POST /api/v1/auth/logout-all"]);

const policyFor = (method: string, url: string) =>
  POLICY[`${method} ${url}`] ??
  Object.entries(POLICY).find(([key]) => {
    const [m, pattern] = key.split(" ") as [string, string];
    return m === method && pattern.endsWith("*") && url.startsWith(pattern.slice(0, -1));
  })?.[1];

let t: TestApp;
let viewerId: string;

beforeAll(async () => {
  t = await startTestApp("access");
  await ensureModelTables(t.database.db);
  // As after a first sync: aging and the dashboard answer 503 until what open items are computed
  // from has had one.
  await markSynced(t.database.db, OPEN_ITEM_SOURCES);
  const users = (
    await t.app.inject({ method: "GET", url: "/api/v1/users", headers: auth(t.tokens.admin) })
  ).json();
  viewerId = users.items.find((u: { role: string }) => u.role === "viewer").id;
});
afterAll(() => t?.close());

const concrete = (url: string) =>
  url
    .replace("/users/:id", `/users/${randomUUID()}`)
    .replace("/sync/runs/:id", "/sync/runs/sync-unknown")
    .replace("/mailings/:id", `/mailings/${randomUUID()}`)
    .replace("/templates/:id", `/templates/${randomUUID()}`)
    .replace(":messageId", randomUUID())
    .replace(":email", "nobody@example.com")
    .replace("/reports/:id", `/reports/${randomUUID()}`)
    .replace(/:queueName/g, "nope")
    .replace(/:jobId/g, "1")
    .replace(/:queueStatus/g, "failed")
    .replace(/:schedulerId/g, "nope")
    .replace(/:id/g, "1")
    .replace(/\*$/, "index.html");

describe("access", () => {
  it("has a policy entry for every route the app serves", () => {
    const missing = t.built.routes.filter((r) => policyFor(r.method, r.url) === undefined);
    expect(missing.map((r) => `${r.method} ${r.url}`)).toEqual([]);
    // and the catalog's own access rules agree with the policy
    for (const route of Object.values(apiRoutes)) {
      const policy = policyFor(route.method, route.url);
      expect(policy, route.url).toEqual(route.access === "public" ? "public" : [...route.access]);
    }
  });

  it("answers every route × every identity: allowed, or 401 without a token / 403 for another role", async () => {
    const failures: string[] = [];
    for (const route of t.built.routes) {
      const policy = policyFor(route.method, route.url)!;
      const url = concrete(route.url);
      const isBoard = route.url.startsWith("/admin/queues");
      for (const who of ["public", "viewer", "finance", "admin"] as Who[]) {
        // Allowed non-GET calls on bull-board would act on the queues: their denial is what matters.
        const allowed = policy === "public" || (who !== "public" && policy.includes(who));
        if (isBoard && allowed && route.method !== "GET") continue;
        const res = await t.app.inject({
          method: route.method as "GET",
          url,
          headers: who === "public" ? {} : auth(t.tokens[who]),
          ...(route.method === "GET" ? {} : { payload: {} }),
        });
        const ok = allowed
          ? res.statusCode !== 401 && res.statusCode !== 403 && res.statusCode < 500
          : res.statusCode === (who === "public" ? 401 : 403);
        if (!ok)
          failures.push(
            `${who} ${route.method} ${url} → ${res.statusCode} (${allowed ? "allowed" : "denied"})`,
          );
        if (!allowed)
          expect(String(res.headers["content-type"]), `${who} ${route.method} ${url}`).toMatch(
            /^application\/problem\+json/,
          );
        if (allowed && who !== "public" && ENDS_CALLERS_SESSIONS.has(`${route.method} ${route.url}`)) {
          const login = await t.app.inject({
            method: "POST",
            url: "/api/v1/auth/login",
            payload: { email: who === "admin" ? ADMIN_EMAIL : `${who}@example.com`, password: PASSWORD },
          });
          expect(login.statusCode).toBe(200);
          t.tokens[who] = login.json().accessToken;
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("lets /metrics be read with METRICS_TOKEN or as admin, and shows latency, queue depth and cache counters", async () => {
    const scoped = await startTestApp("metrics", {
      env: { METRICS_TOKEN: "metrics-token-0123456789" },
      testDb: t.testDb,
    });
    try {
      for (let i = 0; i < 3; i++) await scoped.app.inject({ method: "GET", url: "/health/live" });
      await scoped.app.inject({ method: "GET", url: "/no/such/route" });
      expect((await scoped.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
      const wrong = await scoped.app.inject({
        method: "GET",
        url: "/metrics",
        headers: auth("metrics-token-wrong-000"),
      });
      expect(wrong.statusCode).toBe(401);
      const res = await scoped.app.inject({
        method: "GET",
        url: "/metrics",
        headers: auth("metrics-token-0123456789"),
      });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain("http_request_duration_seconds_bucket");
      // Labelled by route pattern and status; requests that match no route share one label.
      const count = (labels: string) =>
        Number(
          new RegExp(`^http_request_duration_seconds_count\\{${labels}\\} (\\d+)$`, "m").exec(res.body)?.[1],
        );
      expect(count('method="GET",route="/health/live",status_code="200"')).toBe(3);
      expect(count('method="GET",route="unmatched",status_code="404"')).toBe(1);
      expect(count('method="GET",route="/metrics",status_code="401"')).toBe(2);
      expect(res.body).toMatch(/queue_jobs\{queue="etl",state="waiting"\}/);
      expect(res.body).toMatch(/queue_jobs\{queue="reports",state="waiting"\}/);
      expect(res.body).toMatch(/queue_jobs\{queue="mail",state="waiting"\}/);
      expect(res.body).toContain('queue_up{queue="etl"} 1');
      expect(res.body).toContain("api_cache_misses_total");
      // cached reads have their series from the start; routes that are never cached have none
      expect(res.body).toMatch(/^api_cache_hits_total\{route="listInvoices"\} 0$/m);
      expect(res.body).not.toMatch(/api_cache_(hits|misses)_total\{route="login"\}/);
    } finally {
      await scoped.close();
    }
  });

  it("serves bull-board to admins (bearer or the cookie set by /admin/login) and to nobody else", async () => {
    const board = await t.app.inject({ method: "GET", url: "/admin/queues", headers: auth(t.tokens.admin) });
    expect(board.statusCode).toBe(200);
    expect(board.headers["content-type"]).toMatch(/text\/html/);
    const form = await t.app.inject({
      method: "POST",
      url: "/admin/login",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "email=admin%40example.com&password=correct+horse+battery+staple",
    });
    expect(form.statusCode).toBe(303);
    const cookie = String(form.headers["set-cookie"]).split(";")[0]!;
    expect(String(form.headers["set-cookie"])).toContain("HttpOnly");
    const api = await t.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { cookie } });
    expect(api.statusCode).toBe(200);
    expect(
      api
        .json()
        .queues.map((q: { name: string }) => q.name)
        .sort(),
    ).toEqual(["etl", "mail", "reports"]);
    // the cookie opens bull-board only, not the API
    expect(
      (await t.app.inject({ method: "GET", url: "/api/v1/users", headers: { cookie } })).statusCode,
    ).toBe(401);
    const viewerForm = await t.app.inject({
      method: "POST",
      url: "/admin/login",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "email=viewer%40example.com&password=correct+horse+battery+staple",
    });
    expect(viewerForm.statusCode).toBe(403);
  });
});

describe("hostile and malformed input", () => {
  const cases: {
    name: string;
    method: "GET" | "POST" | "PATCH";
    url: string;
    who?: Who;
    payload?: unknown;
    raw?: string;
    field: string;
  }[] = [
    {
      name: "malformed JSON",
      method: "POST",
      url: "/api/v1/auth/login",
      raw: '{"email": "a@b.c", ',
      field: "body",
    },
    {
      name: "JSON of the wrong shape",
      method: "POST",
      url: "/api/v1/auth/login",
      raw: "[1,2]",
      field: "body",
    },
    {
      name: "missing field",
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email: "a@b.co" },
      field: "body.password",
    },
    {
      name: "bad email",
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email: "nope", password: "x" },
      field: "body.email",
    },
    {
      name: "unknown body field",
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email: "a@b.co", password: "x", role: "admin" },
      field: "body.role",
    },
    {
      name: "wrong type in body",
      method: "POST",
      url: "/api/v1/users",
      who: "admin",
      payload: { email: "n@e.co", password: 123456789012, role: "viewer" },
      field: "body.password",
    },
    {
      name: "short password",
      method: "POST",
      url: "/api/v1/users",
      who: "admin",
      payload: { email: "n@e.co", password: "short", role: "viewer" },
      field: "body.password",
    },
    {
      name: "unknown role",
      method: "POST",
      url: "/api/v1/users",
      who: "admin",
      payload: { email: "n@e.co", password: "long enough password", role: "root" },
      field: "body.role",
    },
    {
      name: "empty patch",
      method: "PATCH",
      url: "/api/v1/users/00000000-0000-4000-8000-000000000000",
      who: "admin",
      payload: {},
      field: "body",
    },
    {
      name: "bad uuid",
      method: "PATCH",
      url: "/api/v1/users/1%20or%201=1",
      who: "admin",
      payload: { role: "admin" },
      field: "path.id",
    },
    { name: "non-numeric id", method: "GET", url: "/api/v1/invoices/abc", field: "path.id" },
    { name: "id out of range", method: "GET", url: "/api/v1/invoices/99999999999", field: "path.id" },
    { name: "zero id", method: "GET", url: "/api/v1/partners/0", field: "path.id" },
    { name: "limit too large", method: "GET", url: "/api/v1/invoices?limit=100000", field: "query.limit" },
    { name: "limit zero", method: "GET", url: "/api/v1/payments?limit=0", field: "query.limit" },
    { name: "limit not a number", method: "GET", url: "/api/v1/accounts?limit=ten", field: "query.limit" },
    { name: "unknown query field", method: "GET", url: "/api/v1/invoices?foo=bar", field: "query.foo" },
    { name: "unknown enum", method: "GET", url: "/api/v1/invoices?state=deleted", field: "query.state" },
    {
      name: "unknown sort",
      method: "GET",
      url: "/api/v1/invoices?sort=id;drop%20table",
      field: "query.sort",
    },
    {
      name: "SQL in an id filter",
      method: "GET",
      url: "/api/v1/invoices?partnerId=1%20OR%201=1",
      field: "query.partnerId",
    },
    {
      name: "SQL in a date filter",
      method: "GET",
      url: "/api/v1/invoices?invoiceDateFrom=2020-01-01'--",
      field: "query.invoiceDateFrom",
    },
    { name: "impossible date", method: "GET", url: "/api/v1/aging?asOf=2025-02-30", field: "query.asOf" },
    {
      name: "SQL in text search",
      method: "GET",
      url: "/api/v1/partners?q=%27%3B%20delete%20from%20app.users%3B--",
      field: "query.q",
    },
    {
      name: "SQL in a type filter",
      method: "GET",
      url: "/api/v1/accounts?accountType=x'%20or%201=1",
      field: "query.accountType",
    },
    {
      name: "forged cursor",
      method: "GET",
      url: "/api/v1/invoices?cursor=WyJ4IiwxLDFd",
      field: "query.cursor",
    },
    {
      name: "cursor garbage",
      method: "GET",
      url: "/api/v1/invoices?cursor=%25%25%25",
      field: "query.cursor",
    },
    { name: "boolean garbage", method: "GET", url: "/api/v1/invoices?overdue=maybe", field: "query.overdue" },
    { name: "month out of range", method: "GET", url: "/api/v1/dashboard?from=2025-13", field: "query.from" },
    {
      name: "from after to",
      method: "GET",
      url: "/api/v1/dashboard?from=2025-06&to=2025-01",
      field: "query.from",
    },
    {
      name: "bad sync mode",
      method: "POST",
      url: "/api/v1/sync/runs",
      who: "finance",
      payload: { mode: "everything" },
      field: "body.mode",
    },
    {
      name: "models not a list",
      method: "POST",
      url: "/api/v1/sync/runs",
      who: "finance",
      payload: { models: "account.move" },
      field: "body.models",
    },
    {
      name: "bad model name",
      method: "POST",
      url: "/api/v1/sync/runs",
      who: "finance",
      payload: { models: ["account.move; drop"] },
      field: "body.models.0",
    },
    {
      name: "empty id list",
      method: "POST",
      url: "/api/v1/sync/records",
      who: "finance",
      payload: { model: "account.move", ids: [] },
      field: "body.ids",
    },
    {
      name: "string id",
      method: "POST",
      url: "/api/v1/sync/records",
      who: "finance",
      payload: { model: "account.move", ids: [1, "2"] },
      field: "body.ids.1",
    },
    {
      name: "too many ids",
      method: "POST",
      url: "/api/v1/sync/records",
      who: "finance",
      payload: { model: "account.move", ids: Array.from({ length: 1001 }, (_, i) => i + 1) },
      field: "body.ids",
    },
    {
      name: "bad run id",
      method: "GET",
      url: "/api/v1/sync/runs/..%2F..%2Fetc",
      who: "finance",
      field: "path.id",
    },
  ];

  it.each(cases)("$name → 400 problem+json naming $field", async (c) => {
    const token = c.who && c.who !== "public" ? t.tokens[c.who] : t.tokens.viewer;
    const res = await t.app.inject({
      method: c.method,
      url: c.url,
      headers: { ...auth(token), ...(c.raw !== undefined ? { "content-type": "application/json" } : {}) },
      ...(c.raw !== undefined
        ? { payload: c.raw }
        : c.payload !== undefined
          ? { payload: c.payload as object }
          : {}),
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ status: 400, title: "Bad Request" });
    expect(body.errors.map((e: { field: string }) => e.field)).toContain(c.field);
  });

  it("names every bad field at once", async () => {
    const res = await t.app.inject({
      method: "GET",
      url: "/api/v1/invoices?limit=0&state=x&partnerId=y&evil=1",
      headers: auth(t.tokens.viewer),
    });
    expect(res.statusCode).toBe(400);
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining(["query.limit", "query.state", "query.partnerId", "query.evil"]),
    );
  });

  it("refuses a body that is not JSON with 4xx (415 for unknown types), an oversized one with 413, and changes nothing", async () => {
    const before = (
      await t.app.inject({ method: "GET", url: "/api/v1/users", headers: auth(t.tokens.admin) })
    ).json();
    const text = await t.app.inject({
      method: "POST",
      url: "/api/v1/users",
      headers: { ...auth(t.tokens.admin), "content-type": "text/plain" },
      payload: "email=x",
    });
    expect(text.statusCode).toBe(400);
    expect(text.json().errors[0].field).toBe("body");
    const xml = await t.app.inject({
      method: "POST",
      url: "/api/v1/users",
      headers: { ...auth(t.tokens.admin), "content-type": "application/xml" },
      payload: "<user/>",
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(text.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const huge = await t.app.inject({
      method: "POST",
      url: "/api/v1/users",
      headers: { ...auth(t.tokens.admin), "content-type": "application/json" },
      payload: JSON.stringify({ email: "x@y.z", password: "p".repeat(2_000_000), role: "viewer" }),
    });
    expect(huge.statusCode).toBe(413);
    const after = (
      await t.app.inject({ method: "GET", url: "/api/v1/users", headers: auth(t.tokens.admin) })
    ).json();
    expect(after.items.length).toBe(before.items.length);
    // the viewer is still a viewer after a viewer tried to make itself admin
    const self = await t.app.inject({
      method: "PATCH",
      url: `/api/v1/users/${viewerId}`,
      headers: auth(t.tokens.viewer),
      payload: { role: "admin" },
    });
    expect(self.statusCode).toBe(403);
    const me = (
      await t.app.inject({ method: "GET", url: "/api/v1/me", headers: auth(t.tokens.viewer) })
    ).json();
    expect(me.role).toBe("viewer");
  });
});

describe("OpenAPI", () => {
  it("is a valid OpenAPI 3.1 document covering every route, and /docs serves it", async () => {
    const res = await t.app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    for (const [name, route] of Object.entries(apiRoutes)) {
      const path = route.url.replace(/:(\w+)/g, "{$1}");
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${path}`).toBeDefined();
      expect(operation.operationId).toBe(name);
      // public exactly where the catalog says so; the document's default (bearerAuth) elsewhere
      expect(operation.security, name).toEqual(route.access === "public" ? [] : [{ bearerAuth: [] }]);
      // a page is documented in its own media type, a JSON answer in JSON
      const [status] = Object.keys(route.response);
      const media = Object.keys(operation.responses[status!]?.content ?? {});
      if (status !== "204")
        expect(media, `${route.method} ${path}`).toEqual([
          "contentType" in route ? String(route.contentType).split(";")[0] : "application/json",
        ]);
    }
    for (const route of t.built.routes.filter(
      (r) => r.url.startsWith("/api/") || r.url.startsWith("/health/") || r.url === "/metrics",
    )) {
      const path = route.url.replace(/:(\w+)/g, "{$1}");
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path}`).toBeDefined();
    }
    const docs = await t.app.inject({ method: "GET", url: "/docs/" });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain("swagger");
  });

  it("declares bearer auth for the whole API, and gives every operation an id and its 4xx answers as problem+json", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const operations = Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)
      .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })))
      .filter(({ method }) => ["get", "post", "put", "patch", "delete"].includes(method));
    expect(operations.length).toBe(Object.keys(apiRoutes).length + 1); // the catalog and /metrics
    for (const { path, method, op } of operations) {
      const where = `${method} ${path}`;
      expect(op.operationId, where).toEqual(expect.any(String));
      const responses = op.responses as Record<string, { content?: Record<string, unknown> }>;
      const fourXX = Object.keys(responses).filter((code) => code.startsWith("4"));
      expect(fourXX.length, where).toBeGreaterThan(0);
      for (const code of fourXX) {
        expect(
          Object.keys(responses[code]?.content ?? {}).filter((media) => media !== "text/html"),
          `${where} ${code}`,
        ).toEqual(["application/problem+json"]);
      }
      expect(fourXX, where).toContain("429");
      if (op.security && (op.security as unknown[]).length) expect(fourXX, where).toContain("401");
    }
    // a route's own answers are documented with it
    expect(Object.keys(doc.paths["/api/v1/auth/login"].post.responses)).toEqual(
      expect.arrayContaining(["200", "400", "401", "413", "415", "429"]),
    );
    expect(doc.paths["/api/v1/reports/{id}/file"].get.responses["410"].description).toMatch(/expired/);
  });

  it("passes Redocly's recommended rules with no error and no warning (redocly.yaml)", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/openapi.json" })).body;
    const dir = mkdtempSync(join(tmpdir(), "finanzas-openapi-"));
    try {
      const file = join(dir, "openapi.json");
      writeFileSync(file, doc);
      const redocly = fileURLToPath(new URL("../node_modules/.bin/redocly", import.meta.url));
      const config = fileURLToPath(new URL("../redocly.yaml", import.meta.url));
      const { stdout } = await promisify(execFile)(
        redocly,
        ["lint", file, "--config", config, "--format", "json"],
        {
          env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
          maxBuffer: 16 * 1024 * 1024,
        },
      ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
      const report = JSON.parse(stdout) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
      };
      const problems = report.problems.map(
        (p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`,
      );
      expect(problems).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("public by declaration only", () => {
  it("refuses to start with a route public outside the catalog, or a route without a rule", () => {
    expect(
      accessRuleProblems([
        { method: "POST", url: "/api/v1/auth/login", access: "public" },
        { method: "GET", url: "/docs/static/index.html", access: "public" },
        { method: "GET", url: "/admin/queues", access: ["admin"] },
      ]),
    ).toEqual([]);
    const problems = accessRuleProblems([
      { method: "GET", url: "/api/v1/invoices", access: "public" },
      { method: "POST", url: "/openapi.json", access: "public" },
      { method: "GET", url: "/debug", access: undefined },
    ]);
    expect(problems.join("\n")).toContain("routes without an access rule: GET /debug");
    expect(problems.join("\n")).toContain(
      "routes public without a declaration in the route catalog (apiRoutes or PUBLIC_PAGES of @finanzas/contracts): GET /api/v1/invoices, POST /openapi.json",
    );
  });
});
