import { etlQueue } from "@finanzas/contracts";
import { createProducer, type Producer } from "@finanzas/queue";
import { TEST_REDIS_URL } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Etl, startEtl } from "./etl.js";
import { auth, createUser, startTestApp, type TestApp } from "./helpers.js";

/*
 * Work a user can pile up: identical syncs are one run, and mailings per user are capped
 * (MAIL_MAX_ACTIVE_PER_USER; reports have REPORT_MAX_ACTIVE_PER_USER, see reports.test.ts).
 */

type Accepted = { runId: string; status: string; mode: string; models: string[]; existing: boolean };

describe("sync requests", () => {
  let t: TestApp;
  let etl: Producer<typeof etlQueue>;
  beforeAll(async () => {
    t = await startTestApp("sync_dedup");
    etl = createProducer(etlQueue, { redisUrl: TEST_REDIS_URL, prefix: t.prefix });
  });
  afterAll(async () => {
    await etl?.close();
    await t?.close();
  });

  const requestSync = async (body: Record<string, unknown>, who: "admin" | "finance" = "finance") => {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/sync/runs",
      headers: auth(t.tokens[who]),
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(202);
    return res.json() as Accepted;
  };
  const pendingSyncs = async () =>
    (await etl.queue.getJobs(["waiting", "prioritized", "delayed", "active"])).filter(
      (j) => j.name === "sync",
    );

  it("answers an identical request with the run already queued, saying so; other requests get their own run", async () => {
    const first = await requestSync({});
    expect(first).toMatchObject({ status: "queued", mode: "incremental", existing: false });
    // the same sync again, by anyone, with the mode spelled out or not
    expect(await requestSync({}, "admin")).toEqual({ ...first, existing: true });
    expect(await requestSync({ mode: "incremental" })).toMatchObject({ runId: first.runId, existing: true });
    // the same models in another order are the same sync
    const some = await requestSync({ models: ["res.partner", "account.move"] });
    expect(some.existing).toBe(false);
    expect(await requestSync({ models: ["account.move", "res.partner"] })).toMatchObject({
      runId: some.runId,
      existing: true,
    });
    // another mode or other models are other work
    const full = await requestSync({ mode: "full" });
    expect(full.existing).toBe(false);
    expect(new Set([first.runId, some.runId, full.runId]).size).toBe(3);
    expect((await pendingSyncs()).map((j) => j.id).sort()).toEqual(
      [first.runId, some.runId, full.runId].sort(),
    );
    // the existing run is the one GET shows
    const run = await t.app.inject({
      method: "GET",
      url: `/api/v1/sync/runs/${first.runId}`,
      headers: auth(t.tokens.finance),
    });
    expect(run.json()).toMatchObject({ id: first.runId, status: "queued" });
  });

  it("starts one run for identical requests made at once", async () => {
    const body = { mode: "full", models: ["account.account"] };
    const answers = await Promise.all(Array.from({ length: 6 }, () => requestSync(body)));
    expect(new Set(answers.map((a) => a.runId)).size).toBe(1);
    expect(answers.filter((a) => !a.existing)).toHaveLength(1);
    const queued = (await pendingSyncs()).filter(
      (j) => j.data.mode === "full" && JSON.stringify(j.data.models) === '["account.account"]',
    );
    expect(queued).toHaveLength(1);
  });

  it("returns a sync the scheduler queued, and a new run once the queued one is gone", async () => {
    const body = { mode: "incremental" as const, models: ["account.journal"] };
    const scheduled = await etl.add(
      "sync",
      { ...body, requestedBy: "scheduler" },
      { jobId: "scheduled-test-1" },
    );
    expect(await requestSync(body)).toMatchObject({ runId: scheduled.id, existing: true });
    await etl.queue.remove(scheduled.id);
    const fresh = await requestSync(body);
    expect(fresh.existing).toBe(false);
    // a run removed by hand (bull-board, say) does not block the next request either
    await etl.queue.remove(fresh.runId);
    const again = await requestSync(body);
    expect(again.existing).toBe(false);
    expect(again.runId).not.toBe(fresh.runId);
  });

  it("does not answer with the scheduler's next occurrence: a sync asked for now is queued now", async () => {
    const body = { mode: "incremental" as const, models: ["account.payment"] };
    // as the scheduler registers it: a cron schedule whose next job waits, delayed, for its slot
    await etl.queue.upsertJobScheduler(
      "sync-dedup-test",
      { pattern: "0 0 1 1 *" },
      { name: "sync", data: { ...body, requestedBy: "scheduler" } },
    );
    try {
      const next = (await etl.queue.getJobs(["delayed"])).find((j) => j.repeatJobKey === "sync-dedup-test");
      expect(next, "the schedule's next occurrence").toBeDefined();
      const now = await requestSync(body);
      expect(now).toMatchObject({ status: "queued", existing: false });
      expect(now.runId).not.toBe(next?.id);
      expect(["waiting", "prioritized"]).toContain(
        await etl.queue.getJob(now.runId).then((j) => j?.getState()),
      );
      // and a second request finds the one just queued
      expect(await requestSync(body)).toMatchObject({ runId: now.runId, existing: true });
    } finally {
      await etl.queue.removeJobScheduler("sync-dedup-test");
    }
  });
});

describe("sync requests with an etl-worker", () => {
  let t: TestApp;
  let etl: Etl;
  beforeAll(async () => {
    t = await startTestApp("sync_dedup_etl");
    etl = await startEtl(t, 0.02);
  }, 120_000);
  afterAll(async () => {
    await etl?.close();
    await t?.close();
  });

  it("starts a new run once the identical one has finished", async () => {
    const first = await etl.sync({ models: ["res.currency"] });
    expect(first.run.status).toBe("succeeded");
    const second = await etl.sync({ models: ["res.currency"] });
    expect(second.run.status).toBe("succeeded");
    expect(second.runId).not.toBe(first.runId);
  });
});

describe("mailings per user", () => {
  const LIMIT = 2;
  let t: TestApp;
  beforeAll(async () => {
    // No mailer runs: mailings stay "planning", under way.
    t = await startTestApp("mail_limit", { env: { MAIL_MAX_ACTIVE_PER_USER: String(LIMIT) } });
  });
  afterAll(() => t?.close());

  const startMailing = (token: string) =>
    t.app.inject({
      method: "POST",
      url: "/api/v1/mailings",
      headers: auth(token),
      payload: { kind: "statement", dryRun: true },
    });

  it("refuses one more mailing than MAIL_MAX_ACTIVE_PER_USER with a 429 naming the limit, per user", async () => {
    const ids: string[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const res = await startMailing(t.tokens.finance);
      expect(res.statusCode, res.body).toBe(202);
      ids.push(res.json().mailingId);
    }
    const refused = await startMailing(t.tokens.finance);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(refused.json().detail).toMatch(/MAIL_MAX_ACTIVE_PER_USER allows 2 at once/);
    const list = await t.app.inject({
      method: "GET",
      url: "/api/v1/mailings",
      headers: auth(t.tokens.finance),
    });
    expect(list.json().items).toHaveLength(LIMIT);
    // another user has a budget of their own
    expect((await startMailing(t.tokens.admin)).statusCode).toBe(202);
    // once one is cancelled, there is room again
    const cancelled = await t.app.inject({
      method: "POST",
      url: `/api/v1/mailings/${ids[0]}/cancel`,
      headers: auth(t.tokens.finance),
    });
    expect(cancelled.statusCode).toBe(200);
    expect((await startMailing(t.tokens.finance)).statusCode).toBe(202);
  });

  it("holds under concurrent requests of one user", async () => {
    const token = await newFinanceUser(t, "mailburst");
    const answers = await Promise.all(Array.from({ length: 6 }, () => startMailing(token)));
    const codes = answers.map((a) => a.statusCode).sort();
    expect(codes).toEqual([202, 202, 429, 429, 429, 429]);
  });
});

describe("reports per user", () => {
  const LIMIT = 2;
  let t: TestApp;
  beforeAll(async () => {
    // No report-worker runs: reports stay "queued", under way.
    t = await startTestApp("report_limit", { env: { REPORT_MAX_ACTIVE_PER_USER: String(LIMIT) } });
  });
  afterAll(() => t?.close());

  it("holds under concurrent requests of one user: as many accepted as the limit, the rest 429", async () => {
    const token = await newFinanceUser(t, "reportburst");
    // six different reports at once (identical ones would be one request, reused)
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        t.app.inject({
          method: "POST",
          url: "/api/v1/reports",
          headers: auth(token),
          payload: { kind: "trial-balance", params: { dateFrom: `2024-01-0${i + 1}`, dateTo: "2024-12-31" } },
        }),
      ),
    );
    const codes = answers.map((a) => a.statusCode).sort();
    expect(codes).toEqual([202, 202, 429, 429, 429, 429]);
    expect(answers.find((a) => a.statusCode === 429)!.json().detail).toMatch(/at most 2 at once/);
  });
});

/** A finance user of its own (its own per-user budgets), signed in: its access token. */
async function newFinanceUser(t: TestApp, name: string): Promise<string> {
  const user = await createUser(t, "finance", name);
  const login = await t.app.inject({
    method: "POST",
    url: "/api/v1/auth/login",
    payload: { email: user.email, password: "correct horse battery staple" },
  });
  return login.json().accessToken as string;
}
