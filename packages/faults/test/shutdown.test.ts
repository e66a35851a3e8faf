import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OdooSim, startOdooSim } from "@finanzas/odoo-sim";
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
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entryOf, type ServiceName, sleep, until } from "./harness.js";

/*
 * SIGTERM on each built service while it works, as a rolling deploy or a scale-down sends it:
 * requests already accepted are answered, running jobs are handed back to the queue, the process
 * exits 0 within its deadline, and the next process finishes the work with nothing lost or doubled.
 * The stores stay up here (the shared PostgreSQL and Redis); other files break them.
 */

const SHUTDOWN_MS = 1_500;

let database: TestDatabase;
let sim: OdooSim;
let sql: pg.Pool;
let reportsDir: string;
const prefix = testQueuePrefix("faults-shutdown");
const procs: ServiceProcess[] = [];
let api = "";
let token = "";
const smtp = { port: 0, messageIds: [] as string[], delayMs: 100, close: async () => {} };

const common = () => ({
  NODE_ENV: "test",
  LOG_LEVEL: "info",
  LOG_FORMAT: "json",
  DATABASE_URL: database.url,
  REDIS_URL: TEST_REDIS_URL,
  QUEUE_PREFIX: prefix,
  SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_MS),
  REPORTS_DIR: reportsDir,
  MAIL_UNSUBSCRIBE_SECRET: "faults-unsubscribe-key-0123456789abcdef",
});

async function start(app: ServiceName, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const portVariable = app === "web-api" ? "PORT" : "HEALTH_PORT";
  const proc = startProcess(entryOf(app), { ...common(), [portVariable]: String(port), ...env });
  procs.push(proc);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${base}/health/ready`, proc, 60_000);
  if (app === "web-api") api = base;
  return proc;
}

const etlEnv = () => ({
  ODOO_URL: sim.url,
  ODOO_DB: sim.database,
  ODOO_USERNAME: sim.username,
  ODOO_PASSWORD: sim.password,
  ETL_LOCK_TTL_SECONDS: "5",
  // Small pages of a slow server: the full sync takes several seconds, so the signal lands inside it.
  ODOO_PAGE_SIZE: "50",
});

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Reads until `done` holds for what was read; the harness's polling, its deadline included. */
const untilDone = <T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 120_000) =>
  until(
    what,
    async () => {
      const value = await read();
      return done(value) ? value : undefined;
    },
    ms,
  );

/** A minimal SMTP server that records the Message-ID of every message it accepts, after `delayMs`. */
async function startSmtpSink(): Promise<void> {
  const server = createTcpServer((socket) => {
    let buffer = "";
    let inData = false;
    let message = "";
    socket.write("220 sink ESMTP\r\n");
    socket.on("error", () => {});
    socket.on("data", async (chunk) => {
      buffer += chunk.toString("latin1");
      for (let i = buffer.indexOf("\r\n"); i >= 0; i = buffer.indexOf("\r\n")) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            const id = /^message-id:\s*(\S+)/im.exec(message)?.[1] ?? "";
            message = "";
            socket.pause();
            await sleep(smtp.delayMs);
            smtp.messageIds.push(id);
            if (!socket.destroyed) socket.write("250 queued\r\n");
            socket.resume();
          } else message += `${line}\n`;
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") socket.write("250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
        else if (verb === "HELO") socket.write("250 sink\r\n");
        else if (verb === "DATA") {
          inData = true;
          socket.write("354 go on\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 bye\r\n");
        } else socket.write("250 ok\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  smtp.port = (server.address() as { port: number }).port;
  smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
}

beforeAll(async () => {
  [database, sim] = await Promise.all([
    createTestDatabase("faults_shutdown"),
    startOdooSim({ version: 17, scale: 0.3, seed: 3, performance: { latencyMs: 120, workers: 2 } }),
  ]);
  reportsDir = await mkdtemp(join(tmpdir(), "finanzas-faults-reports-"));
  sql = new pg.Pool({ connectionString: database.url, max: 2 });
  await startSmtpSink();
  await start("web-api", {
    HOST: "127.0.0.1",
    JWT_SECRET: "faults-jwt-secret-0123456789abcdefghijklmnop",
    ADMIN_EMAIL: "faults@finanzas.test",
    ADMIN_PASSWORD: "faults-admin-password",
    RATE_LIMIT_MAX: "1000000",
    RATE_LIMIT_WINDOW_SECONDS: "1",
  });
  const login = await fetch(`${api}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "faults@finanzas.test", password: "faults-admin-password" }),
  });
  token = ((await login.json()) as { accessToken: string }).accessToken;
}, 180_000);

afterAll(async () => {
  for (const p of procs) await p.stop("SIGKILL").catch(() => {});
  await sql?.end();
  await sim?.close();
  await smtp.close();
  await deleteQueueKeys(prefix);
  await database?.drop();
  if (reportsDir) await rm(reportsDir, { recursive: true, force: true });
});

/** Every model's live local rows against the simulator's records: the same ids, once each. */
async function copyDiffers(): Promise<string[]> {
  const diffs: string[] = [];
  const { rows: tables } = await sql.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'odoo'",
  );
  const names = new Set(tables.map((t) => t.table_name));
  for (const model of [
    "res.partner",
    "account.move",
    "account.move.line",
    "account.payment",
    "account.account",
  ]) {
    const table = model.replace(/\./g, "_");
    if (!names.has(table)) {
      diffs.push(`${model}: no table`);
      continue;
    }
    const source = new Set(sim.store.ids(model));
    const { rows } = await sql.query<{ id: number }>(
      `select id from odoo.${table} where _deleted_at is null`,
    );
    const local = new Set(rows.map((r) => Number(r.id)));
    if (rows.length !== local.size) diffs.push(`${model}: duplicate ids`);
    for (const id of source) if (!local.has(id)) diffs.push(`${model} ${id} missing`);
    for (const id of local) if (!source.has(id)) diffs.push(`${model} ${id} not in Odoo`);
    if (diffs.length > 20) break;
  }
  return diffs;
}

describe("SIGTERM on each service while it works", () => {
  it("etl-worker during a full sync: exits 0, hands the job back, the next worker finishes it with an exact copy", async () => {
    const first = await start("etl-worker", etlEnv());
    const created = await call<{ runId: string }>("POST", "/api/v1/sync/runs", { mode: "full" });
    expect(created.status).toBe(202);
    const runId = created.body.runId;
    await untilDone(
      "the sync to be under way",
      async () =>
        (await call<{ status: string; progress: unknown }>("GET", `/api/v1/sync/runs/${runId}`)).body,
      (run) => run.status === "running" && run.progress !== null,
    );
    await sleep(1_500);
    const stopped = await first.stop("SIGTERM");
    expect(stopped.code, first.output().slice(-4000)).toBe(0);
    expect(stopped.ms).toBeLessThan(SHUTDOWN_MS + 10_000);
    expect(first.output()).toMatch(/returned to the queue/);
    const restartedAt = Date.now();
    await start("etl-worker", etlEnv());
    const run = await untilDone(
      "the handed-back sync to finish",
      async () => (await call<{ status: string }>("GET", `/api/v1/sync/runs/${runId}`)).body,
      (r) => r.status === "succeeded" || r.status === "failed",
      180_000,
    );
    expect(run.status).toBe("succeeded");
    expect(await copyDiffers()).toEqual([]);
    console.log(
      `etl-worker SIGTERM: exit ${stopped.ms} ms; the run finished ${Date.now() - restartedAt} ms after the restart`,
    );
  }, 300_000);

  it("web-api under load: requests in flight at SIGTERM are answered, then it exits 0", async () => {
    const webApi = procs.find((p) => p.output().includes('"service":"web-api"')) as ServiceProcess;
    const outcomes: { startedAt: number; endedAt: number; status: number; error?: string }[] = [];
    let stopAt = Number.POSITIVE_INFINITY;
    const paths = [
      "/api/v1/invoices?limit=50",
      "/api/v1/partners?limit=50&sort=-id",
      "/api/v1/journal-items?limit=100",
      "/api/v1/aging",
      "/api/v1/dashboard",
    ];
    const loop = async (n: number) => {
      for (let i = n; ; i++) {
        const startedAt = Date.now();
        if (startedAt > stopAt + 1_000) return;
        try {
          const response = await fetch(`${api}${paths[i % paths.length]}`, {
            headers: { authorization: `Bearer ${token}`, "cache-control": "no-cache" },
          });
          await response.arrayBuffer();
          outcomes.push({ startedAt, endedAt: Date.now(), status: response.status });
        } catch (error) {
          outcomes.push({
            startedAt,
            endedAt: Date.now(),
            status: 0,
            error: String((error as Error).cause ?? error),
          });
          if (startedAt > stopAt) return;
          await sleep(20);
        }
      }
    };
    const clients = Array.from({ length: 12 }, (_, n) => loop(n));
    await sleep(3_000);
    stopAt = Date.now();
    const stopped = await webApi.stop("SIGTERM");
    await Promise.all(clients);
    expect(stopped.code).toBe(0);
    const before = outcomes.filter((o) => o.startedAt < stopAt);
    expect(before.length).toBeGreaterThan(50);
    // In flight when the signal came: started before it, answered after it.
    const inFlight = outcomes.filter((o) => o.startedAt < stopAt && (o.endedAt >= stopAt || o.status === 0));
    const unanswered = inFlight.filter((o) => o.status === 0);
    expect(unanswered, JSON.stringify(unanswered.slice(0, 3))).toEqual([]);
    for (const o of before) expect([200, 503]).toContain(o.status);
    console.log(
      `web-api SIGTERM: exit in ${stopped.ms} ms; ${before.length} requests before it, ${inFlight.length} in flight, all answered`,
    );
    await start("web-api", {
      HOST: "127.0.0.1",
      JWT_SECRET: "faults-jwt-secret-0123456789abcdefghijklmnop",
      RATE_LIMIT_MAX: "1000000",
      RATE_LIMIT_WINDOW_SECONDS: "1",
    });
  }, 120_000);

  it("report-worker during a general ledger: exits 0, the report is built again in full by the next worker", async () => {
    const slow = { REPORT_BATCH_ROWS: "5" };
    const first = await start("report-worker", slow);
    const { rows: range } = await sql.query<{ from: string; to: string; items: number; accounts: number }>(
      `select min(l.date)::text as from, max(l.date)::text as to, count(*)::int as items,
              count(distinct l.account_id)::int as accounts
         from odoo.account_move_line l
         join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
        where l._deleted_at is null and l.parent_state = 'posted'`,
    );
    const period = range[0] as { from: string; to: string; items: number; accounts: number };
    const created = await call<{ reportId: string }>("POST", "/api/v1/reports", {
      kind: "general-ledger",
      params: { dateFrom: period.from, dateTo: period.to },
    });
    expect([201, 202]).toContain(created.status);
    const id = created.body.reportId;
    const building = await untilDone(
      "the report to be running",
      async () => (await call<{ status: string; rows: number }>("GET", `/api/v1/reports/${id}`)).body,
      // running, or already past it: a build finished before the signal is a failure that says so
      (r) => r.status !== "queued",
    );
    expect(building.status, "the report must still be building when the signal comes").toBe("running");
    const stopped = await first.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(SHUTDOWN_MS + 10_000);
    await start("report-worker");
    const report = await untilDone(
      "the report to be built",
      async () =>
        (await call<{ status: string; rows: number; error: string | null }>("GET", `/api/v1/reports/${id}`))
          .body,
      (r) => r.status === "succeeded" || r.status === "failed",
      180_000,
    );
    expect(report.status, report.error ?? "").toBe("succeeded");
    // Every posted journal item of a synced account is a row, once: nothing lost to the restart, and
    // no page written twice (at most an initial and an ending row per account on top).
    expect(report.rows).toBeGreaterThanOrEqual(period.items);
    expect(report.rows).toBeLessThanOrEqual(period.items + 2 * period.accounts);
    const file = await fetch(`${api}/api/v1/reports/${id}/file`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(1_000);
  }, 300_000);

  it("mailer during a mailing: exits 0, nothing left in `sending`, and after a restart every recipient got one message", async () => {
    const mailerEnv = {
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      SMTP_TIMEOUT_MS: "5000",
      MAIL_ATTACH_STATEMENTS: "false",
      MAIL_RATE_PER_SECOND: "1000",
      MAIL_CONCURRENCY: "4",
      MAIL_RETRY_DELAY_MS: "300",
    };
    const first = await start("mailer", mailerEnv);
    const template = await call<{ id: string }>("POST", "/api/v1/mail/templates", {
      kind: "custom",
      key: "faults-note",
      lang: "es",
      name: "Nota",
      subject: "Nota {{ partner.id }}",
      html: "<p>{{ partner.name }}</p>",
    });
    expect(template.status).toBe(201);
    const { rows: partners } = await sql.query<{ id: number }>(
      "select id from odoo.res_partner where _deleted_at is null and email like '%@%' order by id limit 40",
    );
    expect(partners.length).toBeGreaterThanOrEqual(20);
    const created = await call<{ mailingId: string }>("POST", "/api/v1/mailings", {
      kind: "custom",
      templateId: template.body.id,
      partnerIds: partners.map((p) => p.id),
    });
    expect(created.status).toBe(202);
    const mailing = { id: created.body.mailingId };
    await untilDone(
      "a few messages to be sent",
      async () => smtp.messageIds.length,
      (n) => n >= 5,
    );
    const stopped = await first.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    const { rows: atStop } = await sql.query<{ state: string }>(
      "select state from mail.messages where mailing_id = $1",
      [mailing.id],
    );
    expect(atStop.filter((m) => m.state === "sending")).toEqual([]);
    expect(atStop.filter((m) => m.state === "unknown")).toEqual([]);
    smtp.delayMs = 0;
    await start("mailer", mailerEnv);
    const done = await untilDone(
      "the mailing to be done",
      async () => (await call<{ status: string }>("GET", `/api/v1/mailings/${mailing.id}`)).body,
      (m) => ["done", "failed", "cancelled"].includes(m.status),
    );
    expect(done.status).toBe("done");
    const { rows: messages } = await sql.query<{ state: string; message_id: string }>(
      "select state, message_id from mail.messages where mailing_id = $1",
      [mailing.id],
    );
    const sent = messages.filter((m) => m.state === "sent");
    expect(sent.length).toBe(partners.length);
    const copies = new Map<string, number>();
    for (const id of smtp.messageIds) copies.set(id, (copies.get(id) ?? 0) + 1);
    for (const m of sent) expect(copies.get(`<${m.message_id}>`), m.message_id).toBe(1);
    expect(smtp.messageIds.length).toBe(partners.length);
  }, 300_000);

  it("scheduler: exits 0 at once, its schedules stay registered for the next one", async () => {
    const scheduler = await start("scheduler");
    const stopped = await scheduler.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5_000);
    const { Redis } = await import("ioredis");
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys(`${prefix}:*:repeat`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
