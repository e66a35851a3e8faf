import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db, purgeEtlRuns, purgeMailings, purgeRefreshTokens } from "@finanzas/db";
import { createIndexKeeper } from "@finanzas/ledger";
import type { Consumer } from "@finanzas/queue";
import { createFilesystemStorage } from "@finanzas/storage";
import { createRoleDatabase, type RoleDatabase, TEST_REDIS_URL } from "@finanzas/testing";
import { startTestMailer, type TestMailer } from "mailer/testing";
import { createReportWorker } from "report-worker/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Etl, startEtl } from "./etl.js";
import { ADMIN_EMAIL, auth, logger, PASSWORD, startTestApp, type TestApp } from "./helpers.js";

/*
 * Every service's own code path, each connected as the database role a deployment gives it
 * (packages/db/src/roles.ts, as `pnpm db:migrate` applies them): web-api, report-worker and mailer
 * as the reader, the etl-worker as the ETL role. A sync requested through the API, the finance
 * reads, login and refresh, a report built and downloaded, a mailing planned into the outbox.
 */
let roleDb: RoleDatabase;
let t: TestApp;
let etlStore: Db;
let etl: Etl;
let reports: Consumer;
let mailer: TestMailer;
const dir = mkdtempSync(join(tmpdir(), "api-roles-"));
const storage = createFilesystemStorage({ dir: join(dir, "files") });

beforeAll(async () => {
  roleDb = await createRoleDatabase("web_api_roles");
  // web-api as the reader role (it creates the first admin and the users, signs them in)
  t = await startTestApp("roles", {
    testDb: { ...roleDb, url: roleDb.readerUrl, drop: async () => {} },
    storage,
  });
  // the etl-worker as the ETL role, on the same queue prefix
  etlStore = createDb({ url: roleDb.etlUrl, max: 8 });
  etl = await startEtl({ ...t, database: etlStore });
  reports = createReportWorker({
    connection: { redisUrl: TEST_REDIS_URL, prefix: t.prefix },
    logger,
    concurrency: 1,
    db: t.database.db,
    databaseUrl: roleDb.readerUrl,
    storage,
    ttlHours: 72,
    statementTimeoutMs: 30_000,
  });
  mailer = await startTestMailer({
    connection: { redisUrl: TEST_REDIS_URL, prefix: t.prefix },
    db: t.database.db,
    logger,
    smtpUrl: "smtp://127.0.0.1:9",
    publicUrl: "http://api.finanzas.test",
  });
}, 180_000);

afterAll(async () => {
  await mailer?.close();
  await reports?.close(5_000);
  await etl?.close();
  await etlStore?.close();
  await t?.close();
  await roleDb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the services on their database roles", () => {
  it("connect as the roles a deployment gives them", async () => {
    const user = async (db: Db) =>
      (await db.pool.query<{ u: string }>("select current_user as u")).rows[0]?.u;
    expect(await user(t.database)).toBe(roleDb.roles.reader.name);
    expect(await user(etlStore)).toBe(roleDb.roles.etl.name);
  });

  it("a sync asked for through the API runs as the ETL role, and the API reads what it wrote", async () => {
    const { run } = await etl.sync({ mode: "full" });
    expect(run.status).toBe("succeeded");
    const invoices = await t.app.inject({
      method: "GET",
      url: "/api/v1/invoices?type=out_invoice&limit=5",
      headers: auth(t.tokens.viewer),
    });
    expect(invoices.statusCode, invoices.body).toBe(200);
    expect((invoices.json() as { items: unknown[] }).items).toHaveLength(5);
    const aging = await t.app.inject({
      method: "GET",
      url: "/api/v1/aging?kind=receivable",
      headers: auth(t.tokens.viewer),
    });
    expect(aging.statusCode, aging.body).toBe(200);
    const state = await t.app.inject({
      method: "GET",
      url: "/api/v1/sync/state",
      headers: auth(t.tokens.finance),
    });
    expect(state.statusCode, state.body).toBe(200);
    // A second, incremental sync on tables the ETL role now owns (ANALYZE, cursors).
    expect((await etl.sync({ mode: "incremental" })).run.status).toBe("succeeded");
  }, 120_000);

  it("the synced tables belong to the ETL role, which builds the read indexes the reader may not", async () => {
    const owners = await t.database.pool.query<{ owner: string }>(
      `select distinct pg_get_userbyid(c.relowner) as owner from pg_class c
         join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'odoo' and c.relkind = 'r'`,
    );
    expect(owners.rows).toEqual([{ owner: roleDb.roles.etl.name }]);
    // web-api's keeper, as the reader: leaves them alone without failing.
    await createIndexKeeper(t.database.pool, logger).ensure();
    const indexes = async () =>
      (
        await t.database.pool.query<{ n: number }>(
          "select count(*)::int as n from pg_indexes where schemaname = 'odoo' and indexname like 'api\\_%'",
        )
      ).rows[0]?.n;
    expect(await indexes()).toBe(0);
    await createIndexKeeper(etlStore.pool, logger).ensure();
    expect(await indexes()).toBeGreaterThanOrEqual(11);
    // and the reader cannot write the synced copy
    await expect(t.database.pool.query("update odoo.res_partner set name = 'x'")).rejects.toMatchObject({
      code: "42501",
    });
  });

  it("login, refresh and logout write the API's own tables as the reader", async () => {
    const login = await t.app.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email: ADMIN_EMAIL, password: PASSWORD },
    });
    expect(login.statusCode, login.body).toBe(200);
    const { refreshToken } = login.json() as { refreshToken: string };
    const refreshed = await t.app.inject({
      method: "POST",
      url: "/api/v1/auth/refresh",
      payload: { refreshToken },
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const next = (refreshed.json() as { refreshToken: string }).refreshToken;
    const out = await t.app.inject({
      method: "POST",
      url: "/api/v1/auth/logout",
      payload: { refreshToken: next },
    });
    expect(out.statusCode, out.body).toBeLessThan(300);
  });

  it("a report is built by the report-worker as the reader and downloaded", async () => {
    const created = await t.app.inject({
      method: "POST",
      url: "/api/v1/reports",
      headers: auth(t.tokens.viewer),
      payload: { kind: "trial-balance", params: { dateFrom: "2024-01-01", dateTo: "2024-12-31" } },
    });
    expect(created.statusCode, created.body).toBe(202);
    const { reportId } = created.json() as { reportId: string };
    const deadline = Date.now() + 90_000;
    let status = "queued";
    while (Date.now() < deadline && (status === "queued" || status === "running")) {
      await new Promise((r) => setTimeout(r, 200));
      const res = await t.app.inject({
        method: "GET",
        url: `/api/v1/reports/${reportId}`,
        headers: auth(t.tokens.viewer),
      });
      status = (res.json() as { status: string }).status;
    }
    const last = await t.app.inject({
      method: "GET",
      url: `/api/v1/reports/${reportId}`,
      headers: auth(t.tokens.viewer),
    });
    expect(status, last.body).toBe("succeeded");
    const file = await t.app.inject({
      method: "GET",
      url: `/api/v1/reports/${reportId}/file`,
      headers: auth(t.tokens.viewer),
    });
    expect(file.statusCode).toBe(200);
    expect(file.rawPayload.subarray(0, 2).toString()).toBe("PK");
  }, 120_000);

  it("a mailing is planned into the outbox by the mailer as the reader", async () => {
    const started = await t.app.inject({
      method: "POST",
      url: "/api/v1/mailings",
      headers: auth(t.tokens.finance),
      payload: { kind: "statement", dryRun: true },
    });
    expect(started.statusCode, started.body).toBe(202);
    const { mailingId } = started.json() as { mailingId: string };
    const deadline = Date.now() + 60_000;
    let body: { status: string; total?: number } = { status: "planning" };
    while (Date.now() < deadline && body.status === "planning") {
      await new Promise((r) => setTimeout(r, 200));
      body = (
        await t.app.inject({
          method: "GET",
          url: `/api/v1/mailings/${mailingId}`,
          headers: auth(t.tokens.finance),
        })
      ).json();
    }
    expect(body.status).not.toBe("planning");
    expect(body.status).not.toBe("failed");
    const outbox = await t.database.pool.query<{ n: number }>(
      "select count(*)::int as n from mail.messages where mailing_id = $1",
      [mailingId],
    );
    expect(outbox.rows[0]?.n).toBeGreaterThan(0);
  }, 90_000);

  it("each retention purge runs with the rights of the role that runs it", async () => {
    expect(await purgeEtlRuns(etlStore.db, { retentionDays: 90 })).toBe(0);
    expect(await purgeRefreshTokens(t.database.db, { retentionDays: 30 })).toBe(0);
    expect(await purgeMailings(t.database.db, { retentionDays: 365 })).toEqual({ mailings: 0, messages: 0 });
    await expect(purgeEtlRuns(t.database.db, { retentionDays: 1 })).rejects.toMatchObject({ code: "42501" });
    await expect(purgeRefreshTokens(etlStore.db, { retentionDays: 1 })).rejects.toMatchObject({
      code: "42501",
    });
  });
});
