/**
 * Redis failing under the built services: stopped (and started again EMPTY, as a Redis without
 * persistence comes back) for 5 s and for 60 s while a sync, a report and a mailing run; frozen
 * (SIGSTOP) for 30 s under API traffic; flushed. Redis failures degrade, they never hang: finance
 * reads and login keep answering from PostgreSQL, queue operations answer 503 with Retry-After, no
 * request waits past its timeout, work Redis lost is found again from PostgreSQL, and schedules come
 * back. After each scenario the synced copy equals the source, the report finished once and every
 * message was sent exactly once.
 */
import { createServer as createTcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN,
  type ApiAnswer,
  type ApiClient,
  apiClient,
  logLines,
  record,
  type Service,
  type Stack,
  sleep,
  startStack,
  until,
} from "./harness.js";

let stack: Stack;
let api: Service;
let client: ApiClient;
const services: Service[] = [];
const smtp = { port: 0, messageIds: [] as string[], delayMs: 150, close: async () => {} };
let templateId = "";
let partnerIds: number[] = [];

/** The longest any API request may take while Redis is down or frozen (its 2 s command timeout, and margin). */
const REQUEST_BUDGET_MS = 4_000;

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
        } else if (verb === "QUIT") socket.end("221 bye\r\n");
        else socket.write("250 ok\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  smtp.port = (server.address() as { port: number }).port;
  smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
}

const json = <T>(answer: ApiAnswer): T => JSON.parse(answer.body) as T;

beforeAll(async () => {
  // About 3 000 journal items read 100 a page from a server taking 40 ms a request: a full sync of
  // several seconds, long enough to be hit in the middle.
  stack = await startStack({ odoo: { scale: 0.3, performance: { latencyMs: 40 } } });
  await startSmtpSink();
  const unsubscribe = { MAIL_UNSUBSCRIBE_SECRET: "faults-unsubscribe-key-0123456789abcdef" };
  api = await stack.start("web-api", { CACHE_TTL_SECONDS: "300", ...unsubscribe });
  services.push(api);
  services.push(
    await stack.start("etl-worker", { ODOO_PAGE_SIZE: "100", ETL_LOCK_TTL_SECONDS: "5" }),
    await stack.start("report-worker", { REPORT_REQUEUE_AFTER_SECONDS: "3" }),
    await stack.start("mailer", {
      ...unsubscribe,
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      SMTP_TIMEOUT_MS: "5000",
      MAIL_ATTACH_STATEMENTS: "false",
      MAIL_RATE_PER_SECOND: "1000",
      MAIL_CONCURRENCY: "4",
      MAIL_BATCH_SIZE: "5",
      MAIL_RETRY_DELAY_MS: "300",
      MAIL_REQUEUE_AFTER_SECONDS: "10",
    }),
    await stack.start("scheduler", { SCHEDULE_CHECK_SECONDS: "2" }),
  );
  client = await apiClient(api);
  // The first full sync, so reports and mailings have data.
  const first = json<{ runId: string }>(await client.post("/api/v1/sync/runs", { mode: "full" }));
  await until(
    "the first sync",
    async () =>
      json<{ status: string }>(await client.get(`/api/v1/sync/runs/${first.runId}`)).status === "succeeded",
    180_000,
    500,
  );
  const template = await client.post("/api/v1/mail/templates", {
    kind: "custom",
    key: "faults-redis-note",
    lang: "es",
    name: "Nota",
    subject: "Nota {{ partner.id }}",
    html: "<p>{{ partner.name }}</p>",
  });
  expect(template.status, template.body).toBe(201);
  templateId = json<{ id: string }>(template).id;
  const { rows } = await stack.store.pool.query<{ id: number }>(
    "select id from odoo.res_partner where _deleted_at is null and email like '%@%' order by id limit 30",
  );
  partnerIds = rows.map((r) => r.id);
  expect(partnerIds.length).toBeGreaterThanOrEqual(20);
}, 300_000);

afterAll(async () => {
  await stack?.close();
  await smtp.close();
});

/** A request under the budget: its status and how long it took (an abort past the budget is a hang). */
async function timed(what: string, call: (signal: AbortSignal) => Promise<ApiAnswer>) {
  const started = Date.now();
  const answer = await call(AbortSignal.timeout(REQUEST_BUDGET_MS * 3));
  const ms = Date.now() - started;
  return { what, status: answer.status, ms, answer };
}

/** What the API answers while Redis is out: reads and login 200, enqueues 503 + Retry-After, readiness degraded. */
async function probeApi(round: number) {
  const rawPost = (path: string, body: unknown, signal: AbortSignal) =>
    fetch(`${api.url}${path}`, {
      method: "POST",
      signal,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.text() }));
  const answers = await Promise.all([
    // a query no one asked before: a cache miss, answered from PostgreSQL
    timed("uncached read", (s) => client.get(`/api/v1/invoices?limit=${3 + (round % 40)}`, s)),
    timed("cached read", (s) => client.get("/api/v1/invoices?limit=2", s)),
    timed("login", (s) => rawPost("/api/v1/auth/login", ADMIN, s)),
    timed("enqueue report", (s) =>
      fetch(`${api.url}/api/v1/reports`, {
        method: "POST",
        signal: s,
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${accessToken}`,
        },
        body: JSON.stringify({
          kind: "trial-balance",
          params: { dateFrom: "2024-01-01", dateTo: `2024-12-${String(1 + (round % 28)).padStart(2, "0")}` },
        }),
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.text() })),
    ),
    timed("readiness", (s) =>
      fetch(`${api.url}/health/ready`, { signal: s }).then(async (r) => ({
        status: r.status,
        headers: r.headers,
        body: await r.text(),
      })),
    ),
  ]);
  return answers;
}
let accessToken = "";

function checkProbe(answers: Awaited<ReturnType<typeof probeApi>>) {
  for (const a of answers) {
    expect(a.ms, `${a.what} took ${a.ms} ms`).toBeLessThan(REQUEST_BUDGET_MS);
    if (a.what === "enqueue report") {
      expect(a.status, a.answer.body).toBe(503);
      expect(a.answer.headers.get("retry-after")).toBe("5");
      expect(a.answer.headers.get("content-type")).toContain("application/problem+json");
    } else {
      expect(a.status, `${a.what}: ${a.answer.body}`).toBe(200);
    }
    if (a.what === "readiness") expect(json<{ status: string }>(a.answer).status).toBe("degraded");
  }
}

/** The declared schedules are all in Redis (BullMQ job schedulers of every queue). */
async function schedulesInPlace(): Promise<boolean> {
  const { Queue } = await import("@finanzas/queue");
  const { redisOptionsFromUrl } = await import("@finanzas/queue");
  let n = 0;
  for (const name of ["etl", "reports", "mail"]) {
    const q = new Queue(name, { connection: redisOptionsFromUrl(stack.redis.url), prefix: stack.prefix });
    try {
      n += (await q.getJobSchedulers(0, -1)).length;
    } finally {
      await q.close();
    }
  }
  // the sync, the reconciliation, the report cleanup, the purge of old runs (reminders are off)
  return n === 4;
}

/** Waits for a sync's run to end, as the API reports it: its status and when it was seen ended. */
function runEnded(runId: string, what: string, timeoutMs: number) {
  return until(
    what,
    async () => {
      const r = json<{ status: string }>(await client.get(`/api/v1/sync/runs/${runId}`));
      return r.status === "succeeded" || r.status === "failed" ? { ...r, at: Date.now() } : undefined;
    },
    timeoutMs,
    250,
  );
}

/**
 * A sync, a report and a mailing under way, then Redis stopped for `downMs` and started again
 * empty; the API probed meanwhile. Then everything must end by itself: the sync's run succeeded
 * with the copy equal to the source, the report succeeded once, every message sent exactly once.
 */
async function stopDuringWork(scenario: string, downMs: number) {
  accessToken = json<{ accessToken: string }>(await client.post("/api/v1/auth/login", ADMIN)).accessToken;
  // make the cached read cached
  expect((await client.get("/api/v1/invoices?limit=2")).status).toBe(200);
  smtp.messageIds.length = 0;
  const sync = json<{ runId: string }>(
    await client.post("/api/v1/sync/runs", { mode: "full", models: ["account.move.line"] }),
  );
  const report = await client.post("/api/v1/reports", {
    kind: "general-ledger",
    params: { dateFrom: "2020-01-01", dateTo: `2026-12-${downMs > 10_000 ? "30" : "29"}` },
  });
  expect([201, 202], report.body).toContain(report.status);
  const reportId = json<{ reportId: string }>(report).reportId;
  const mailing = await client.post("/api/v1/mailings", { kind: "custom", templateId, partnerIds });
  expect(mailing.status, mailing.body).toBe(202);
  const mailingId = json<{ mailingId: string }>(mailing).mailingId;
  await until(
    "the sync to run and the first messages to go",
    async () => {
      const run = await stack.store.pool.query<{ status: string }>(
        "select status from etl.runs where job_id = $1 order by id desc limit 1",
        [sync.runId],
      );
      return run.rows[0]?.status === "running" && smtp.messageIds.length >= 2;
    },
    60_000,
    20,
  );
  const reportAtStop = (
    await stack.store.pool.query<{ status: string }>("select status from reports.reports where id = $1", [
      reportId,
    ])
  ).rows[0]?.status;
  const sentAtStop = smtp.messageIds.length;

  const downAt = Date.now();
  await stack.redis.stop();
  const probes: Awaited<ReturnType<typeof probeApi>>[] = [];
  for (let round = 0; Date.now() - downAt < downMs - 1_000; round++) {
    probes.push(await probeApi(round));
    await sleep(Math.min(5_000, downMs / 4));
  }
  await sleep(Math.max(0, downMs - (Date.now() - downAt)));
  await stack.redis.start(); // empty: the jobs, locks, schedules and sessions of the queue are gone
  const upAt = Date.now();
  for (const p of probes) checkProbe(p);

  // Queue operations answer again.
  const enqueueBackAt = await until(
    "an enqueue to be accepted again",
    async () =>
      (await client.post("/api/v1/sync/runs", { mode: "incremental", models: ["res.currency"] })).status ===
      202
        ? Date.now()
        : undefined,
    60_000,
    200,
  );
  const schedulesBackAt = await until(
    "the schedules to be back",
    async () => ((await schedulesInPlace()) ? Date.now() : undefined),
    30_000,
    250,
  );

  // The sync: its run ends in PostgreSQL, and the API says so (the job is gone from Redis).
  const runDone = await runEnded(sync.runId, "the sync's run to finish", 180_000);
  expect(runDone.status).toBe("succeeded");
  const reportDone = await until(
    "the report to end",
    async () => {
      const r = json<{ status: string; error: string | null }>(
        await client.get(`/api/v1/reports/${reportId}`),
      );
      return ["succeeded", "failed", "cancelled"].includes(r.status) ? { ...r, at: Date.now() } : undefined;
    },
    180_000,
    250,
  );
  expect(reportDone.status, reportDone.error ?? "").toBe("succeeded");
  const mailDone = await until(
    "the mailing to be done",
    async () => {
      const m = json<{ status: string }>(await client.get(`/api/v1/mailings/${mailingId}`));
      return ["done", "failed", "cancelled"].includes(m.status) ? { ...m, at: Date.now() } : undefined;
    },
    180_000,
    250,
  );
  expect(mailDone.status).toBe("done");

  // Data checks: the copy equals the source; the report built once; each message sent once.
  const diffs = await stack.dataCheck();
  expect(diffs, stack.logs()).toEqual([]);
  const reportWorker = services.find((s) => s.name === "report-worker")!;
  const builds = logLines(reportWorker).filter((l) => l.msg === "report built" && l.reportId === reportId);
  expect(builds.length).toBe(1);
  const { rows: messages } = await stack.store.pool.query<{ state: string; message_id: string }>(
    "select state, message_id from mail.messages where mailing_id = $1",
    [mailingId],
  );
  expect(messages.filter((m) => m.state === "sent").length).toBe(partnerIds.length);
  const copies = new Map<string, number>();
  for (const id of smtp.messageIds) copies.set(id, (copies.get(id) ?? 0) + 1);
  for (const m of messages) expect(copies.get(`<${m.message_id}>`), m.message_id).toBe(1);
  expect(smtp.messageIds.length).toBe(partnerIds.length);
  for (const s of services) expect(s.alive(), `${s.name}\n${stack.logs()}`).toBe(true);

  const slowest = Math.max(...probes.flat().map((a) => a.ms));
  const lastDone = Math.max(runDone.at, reportDone.at, mailDone.at);
  record({
    scenario,
    outcome: `services up; ${probes.length} probe rounds: reads and login 200, enqueue 503 + Retry-After, readiness degraded, slowest ${slowest} ms; enqueue back ${((enqueueBackAt - upAt) / 1000).toFixed(1)} s, schedules back ${((schedulesBackAt - upAt) / 1000).toFixed(1)} s; sync run succeeded, report (${reportAtStop} at the stop) succeeded, mailing done (${sentAtStop}/${partnerIds.length} sent at the stop)`,
    dataCheck: `copy = source; report built once; ${partnerIds.length} messages each sent once`,
    recoverMs: lastDone - upAt,
  });
}

describe("Redis failing under the services", () => {
  it("stopped for 5 s (restarted empty) during a sync, a report and a mailing", async () => {
    await stopDuringWork("Redis stopped 5 s (back empty) during a sync, a report and a mailing", 5_000);
  }, 300_000);

  it("stopped for 60 s (restarted empty) during a sync, a report and a mailing", async () => {
    await stopDuringWork("Redis stopped 60 s (back empty) during a sync, a report and a mailing", 60_000);
  }, 360_000);

  it("frozen (SIGSTOP) for 30 s: no API request hangs past its timeout", async () => {
    accessToken = json<{ accessToken: string }>(await client.post("/api/v1/auth/login", ADMIN)).accessToken;
    expect((await client.get("/api/v1/invoices?limit=2")).status).toBe(200);
    const frozenAt = Date.now();
    stack.redis.freeze();
    const probes: Awaited<ReturnType<typeof probeApi>>[] = [];
    try {
      for (let round = 100; Date.now() - frozenAt < 28_000; round++) {
        probes.push(await probeApi(round));
        await sleep(2_000);
      }
    } finally {
      await sleep(Math.max(0, 30_000 - (Date.now() - frozenAt)));
      stack.redis.thaw();
    }
    const thawedAt = Date.now();
    for (const p of probes) checkProbe(p);
    const accepted = await until(
      "an enqueue to be accepted again",
      async () => {
        const r = await client.post("/api/v1/sync/runs", { mode: "incremental" });
        return r.status === 202 ? { at: Date.now(), runId: json<{ runId: string }>(r).runId } : undefined;
      },
      60_000,
      200,
    );
    const back = accepted.at;
    // The etl-worker, idle while Redis was frozen, takes that sync and finishes it. (This once
    // waited for the next quarter-hour: the API answered with the scheduler's next occurrence.)
    expect(accepted.runId, "a run of its own, not the schedule's next slot").not.toMatch(/^repeat:/);
    const ran = await runEnded(accepted.runId, "the sync asked for after the thaw to finish", 60_000).catch(
      (error: unknown) => {
        throw new Error(`${(error as Error).message}\n${stack.logs()}`);
      },
    );
    expect(ran.status, stack.logs()).toBe("succeeded");
    const diffs = await stack.dataCheck();
    expect(diffs).toEqual([]);
    for (const s of services) expect(s.alive(), `${s.name}\n${stack.logs()}`).toBe(true);
    const slowest = Math.max(...probes.flat().map((a) => a.ms));
    record({
      scenario: "Redis frozen (SIGSTOP) 30 s under API traffic",
      outcome: `${probes.length} probe rounds: uncached and cached reads 200, login 200, enqueue 503 + Retry-After, readiness degraded; slowest answer ${slowest} ms (budget ${REQUEST_BUDGET_MS} ms); enqueue accepted again after the thaw, its sync run by the etl-worker in ${((ran.at - back) / 1000).toFixed(1)} s`,
      dataCheck: "copy = source",
      recoverMs: back - thawedAt,
    });
  }, 240_000);

  it("flushed (FLUSHALL): the schedules come back within SCHEDULE_CHECK_SECONDS", async () => {
    expect(await schedulesInPlace()).toBe(true);
    await stack.redis.flushAll();
    const flushedAt = Date.now();
    const back = await until(
      "the schedules to be back",
      async () => ((await schedulesInPlace()) ? Date.now() : undefined),
      30_000,
      100,
    );
    const answer = await client.post("/api/v1/sync/runs", { mode: "incremental" });
    expect(answer.status, answer.body).toBe(202);
    const diffs = await stack.dataCheck();
    expect(diffs).toEqual([]);
    record({
      scenario: "Redis flushed (FLUSHALL)",
      outcome: "schedules registered again by the scheduler's check (SCHEDULE_CHECK_SECONDS=2); enqueue 202",
      dataCheck: "copy = source",
      recoverMs: back - flushedAt,
    });
  }, 120_000);
});
