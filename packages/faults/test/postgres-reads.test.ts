/**
 * PostgreSQL connections of the readers broken under load: the built web-api's backends
 * terminated (pg_terminate_backend, as an operator or a failover does) while it answers reads and
 * aging reports, PostgreSQL stopped under the API, and the built report-worker's backends terminated
 * in the middle of a report build. The API answers 503 problem+json with Retry-After meanwhile
 * (never a 500, never a hang, never a crash) and the same answers as before once the database is
 * back, without a restart; the report's job is retried and the report ends succeeded with the
 * content a build without faults gives.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readWithOpenpyxl, testLogger } from "@finanzas/testing";
import { syncOnce } from "etl-worker/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApiClient,
  apiClient,
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

beforeAll(async () => {
  stack = await startStack({ odoo: { scale: 0.3 } });
  await syncOnce({ store: stack.store, odoo: stack.odoo.odoo, logger: testLogger("faults"), mode: "full" });
  api = await stack.start("web-api");
  client = await apiClient(api);
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

const READS = [
  "/api/v1/invoices?limit=100",
  "/api/v1/partners?limit=100",
  "/api/v1/journal-items?limit=200",
  "/api/v1/payments?limit=100",
  "/api/v1/accounts",
  "/api/v1/sync/state",
  "/api/v1/dashboard",
];

interface Answer {
  path: string;
  status: number;
  ms: number;
  problem: boolean;
  retryAfter: string | null;
  body: string;
  at: number;
}

/** `lanes` clients reading `paths` in turn until `stop` aborts; every answer kept. */
async function readUnderLoad(paths: string[], lanes: number, stop: AbortSignal): Promise<Answer[]> {
  const answers: Answer[] = [];
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = lane; !stop.aborted; i++) {
        const path = paths[i % paths.length]!;
        const started = Date.now();
        const res = await client.get(path);
        answers.push({
          path,
          status: res.status,
          ms: Date.now() - started,
          problem: (res.headers.get("content-type") ?? "").startsWith("application/problem+json"),
          retryAfter: res.headers.get("retry-after"),
          body: res.body,
          at: Date.now(),
        });
      }
    }),
  );
  return answers;
}

/** What a failed read looked like: only 503 problem+json with Retry-After, never anything else. */
function expectOnly200Or503(answers: Answer[]) {
  const other = answers.filter((a) => a.status !== 200 && a.status !== 503);
  expect(
    other.map((a) => `${a.status} ${a.path} ${a.body.slice(0, 300)}`),
    stack.logs(),
  ).toEqual([]);
  for (const a of answers.filter((x) => x.status === 503)) {
    expect(a.problem, a.body).toBe(true);
    expect(Number(a.retryAfter), a.body).toBeGreaterThan(0);
    expect(JSON.parse(a.body)).toMatchObject({ status: 503, detail: expect.stringMatching(/database/) });
  }
}

/** A body as compared: the sync state's lag grows by the second, so it is left out. */
const comparable = (path: string, body: string): string =>
  path.startsWith("/api/v1/sync/state") ? body.replace(/"lagSeconds":\d+/g, '"lagSeconds":0') : body;

/** Every path answers 200 with the body it gave before the fault. */
async function expectSameAnswers(baseline: Map<string, string>) {
  for (const [path, body] of baseline) {
    const res = await client.get(path);
    expect(res.status, `${path}: ${res.body}`).toBe(200);
    expect(comparable(path, res.body), path).toBe(comparable(path, body));
  }
}

async function baselineOf(paths: string[]): Promise<Map<string, string>> {
  const baseline = new Map<string, string>();
  for (const path of paths) {
    const res = await client.get(path);
    expect(res.status, `${path}: ${res.body}`).toBe(200);
    baseline.set(path, res.body);
  }
  return baseline;
}

/**
 * Backends of `applicationName` terminated `times` times, `everyMs` apart, while `paths` are read
 * by 8 clients; returns the answers and when the last termination happened.
 */
async function terminateUnderLoad(paths: string[], applicationName: string, times: number, everyMs: number) {
  const stop = new AbortController();
  const load = readUnderLoad(paths, 8, stop.signal);
  await sleep(300);
  let terminated = 0;
  for (let i = 0; i < times; i++) {
    terminated += await stack.pg.terminateBackends(applicationName);
    await sleep(everyMs);
  }
  const lastAt = Date.now();
  await sleep(500);
  stop.abort();
  return { answers: await load, terminated, lastAt };
}

/** How long after `at` the first read that started then answered 200 (ms). */
function recoveredAfter(answers: Answer[], at: number): number {
  const firstOk = answers.filter((a) => a.at - a.ms >= at && a.status === 200).sort((a, b) => a.at - b.at)[0];
  return firstOk ? firstOk.at - at : Number.NaN;
}

describe("the web-api under PostgreSQL faults", () => {
  it("answers 503 (Retry-After) while its backends are terminated during reads, then the same 200s, without a restart", async () => {
    const baseline = await baselineOf(READS);
    const { answers, terminated, lastAt } = await terminateUnderLoad(READS, "web-api", 6, 250);
    expect(terminated).toBeGreaterThan(0);
    expect(api.alive(), stack.logs()).toBe(true);
    expectOnly200Or503(answers);
    const failed = answers.filter((a) => a.status === 503).length;
    // reads in flight when their connection went: each a 503, not a hang (slowest answer kept)
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(15_000);
    await expectSameAnswers(baseline);
    record({
      scenario: "Backends terminated during API reads (6 × pg_terminate_backend, 8 clients)",
      outcome: `web-api up; ${answers.length} answers: ${answers.length - failed} × 200, ${failed} × 503 problem+json with Retry-After, no other status`,
      dataCheck: "same bodies as before",
      recoverMs: recoveredAfter(answers, lastAt),
    });
  }, 120_000);

  it("answers 503 at once while PostgreSQL is stopped, and 200 again once it is back", async () => {
    const baseline = await baselineOf(READS);
    const stop = new AbortController();
    const load = readUnderLoad(READS, 4, stop.signal);
    await sleep(300);
    await stack.pg.stop("fast");
    const downAt = Date.now();
    await sleep(3_000);
    const startingAt = Date.now(); // from here on it may accept connections at any moment
    await stack.pg.start();
    const upAt = Date.now();
    await until("a 200 from the API", async () => (await client.get(READS[0]!)).status === 200, 30_000, 50);
    await sleep(500);
    stop.abort();
    const answers = await load;
    expect(api.alive(), stack.logs()).toBe(true);
    expectOnly200Or503(answers);
    const whileDown = answers.filter((a) => a.at - a.ms >= downAt && a.at <= startingAt);
    expect(whileDown.length).toBeGreaterThan(0);
    expect(whileDown.every((a) => a.status === 503)).toBe(true);
    // answered at once, not after a connect timeout
    expect(Math.max(...whileDown.map((a) => a.ms))).toBeLessThan(2_000);
    await expectSameAnswers(baseline);
    record({
      scenario: "PostgreSQL stopped (fast) for 3 s during API reads",
      outcome: `web-api up; ${whileDown.length} reads while down, all 503 within ${Math.max(...whileDown.map((a) => a.ms))} ms`,
      dataCheck: "same bodies as before",
      recoverMs: recoveredAfter(answers, upAt),
    });
  }, 120_000);

  it("answers the aging report 503 while its backends are terminated, then the same report", async () => {
    const aging = [
      "/api/v1/aging?kind=receivable",
      "/api/v1/aging?kind=payable",
      "/api/v1/aging?kind=receivable&asOf=2024-06-30",
    ];
    const baseline = await baselineOf(aging);
    const { answers, terminated, lastAt } = await terminateUnderLoad(aging, "web-api", 6, 250);
    expect(terminated).toBeGreaterThan(0);
    expect(api.alive(), stack.logs()).toBe(true);
    expectOnly200Or503(answers);
    await expectSameAnswers(baseline);
    const failed = answers.filter((a) => a.status === 503).length;
    record({
      scenario: "Backends terminated during aging reads (snapshot transactions)",
      outcome: `web-api up; ${answers.length} answers: ${answers.length - failed} × 200, ${failed} × 503`,
      dataCheck: "same report as before",
      recoverMs: recoveredAfter(answers, lastAt),
    });
  }, 120_000);
});

/** The data rows of every sheet (below each sheet's header row), as a reader sees them. */
async function dataRowsOf(bytes: Buffer, name: string): Promise<unknown[][]> {
  const path = join(stack.reportsDir, `${name}.check.xlsx`);
  writeFileSync(path, bytes);
  const book = await readWithOpenpyxl(path);
  return book.sheets.flatMap((sheet) => {
    const header = sheet.rows.findIndex(
      (row) => row.some((c) => c?.bold) && row.filter((c) => c !== null).length > 1,
    );
    return sheet.rows.slice(header + 1).map((row) => row.map((c) => (c === null ? null : c.v)));
  });
}

describe("the report-worker under PostgreSQL faults", () => {
  let worker: Service;
  beforeAll(async () => {
    // a fetch of 5 rows at a time: a general ledger of ~3 000 items is long enough to be hit
    worker = await stack.start("report-worker", { REPORT_BATCH_ROWS: "5", REPORT_LOCK_SECONDS: "5" });
  }, 120_000);

  type ReportView = { id: string; status: string; rows: number; error: string | null };
  const reportOf = async (id: string) =>
    JSON.parse((await client.get(`/api/v1/reports/${id}`)).body) as ReportView;
  const attemptsOf = async (id: string) =>
    (
      await stack.store.pool.query<{ attempts: number }>(
        "select attempts from reports.reports where id = $1",
        [id],
      )
    ).rows[0]?.attempts ?? 0;

  it("retries a report whose build lost its backend, and the report ends succeeded with the content of an undisturbed build", async () => {
    const request = { kind: "general-ledger", params: { dateFrom: "2000-01-01", dateTo: "2100-12-31" } };
    const accepted = await client.post("/api/v1/reports", request);
    expect(accepted.status, accepted.body).toBe(202);
    const { reportId } = JSON.parse(accepted.body) as { reportId: string };
    // The build's own connection reading the ledger through its cursor (the record's `rows` moves
    // at most once a second: a build of a few seconds may end before it shows any).
    await until(
      "the build to be reading rows through its cursor",
      async () => {
        const { rows } = await stack.store.pool.query(
          `select 1 from pg_stat_activity
            where application_name = 'report-worker' and query ilike 'fetch %'
              and state in ('active', 'idle in transaction')`,
        );
        if (rows.length > 0) return true;
        const report = await reportOf(reportId);
        if (report.status === "succeeded" || report.status === "failed")
          throw new Error(`the build ended (${report.status}) before its backend could be terminated`);
        return false;
      },
      60_000,
      10,
    );
    const terminated = await stack.pg.terminateBackends("report-worker");
    const faultAt = Date.now();
    expect(terminated).toBeGreaterThan(0);
    const done = await until(
      "the report to finish",
      async () => {
        const report = await reportOf(reportId);
        return report.status === "succeeded" || report.status === "failed" ? report : undefined;
      },
      120_000,
      100,
    );
    const recoverMs = Date.now() - faultAt;
    expect(worker.alive(), stack.logs()).toBe(true);
    expect(done.status, `${done.error}\n${stack.logs()}`).toBe("succeeded");
    const attempts = await attemptsOf(reportId);
    expect(attempts).toBeGreaterThanOrEqual(2);
    const faulted = await client.bytes(`/api/v1/reports/${reportId}/file`);
    expect(faulted.status).toBe(200);

    // The same report built again with nothing broken (the first one deleted, or it would be reused).
    expect((await client.delete(`/api/v1/reports/${reportId}`)).status).toBeLessThan(300);
    const again = JSON.parse((await client.post("/api/v1/reports", request)).body) as { reportId: string };
    const clean = await until(
      "the undisturbed build",
      async () => {
        const report = await reportOf(again.reportId);
        return report.status === "succeeded" || report.status === "failed" ? report : undefined;
      },
      120_000,
      100,
    );
    expect(clean.status, clean.error ?? "").toBe("succeeded");
    const reference = await client.bytes(`/api/v1/reports/${again.reportId}/file`);
    const [got, want] = await Promise.all([
      dataRowsOf(faulted.body, "faulted"),
      dataRowsOf(reference.body, "reference"),
    ]);
    expect(got.length).toBeGreaterThan(100);
    expect(got).toEqual(want);
    expect(done.rows).toBe(clean.rows);
    record({
      scenario: "Backends terminated during a report build (general ledger)",
      outcome: `report-worker up; the build failed, its job was retried (attempt ${attempts}) and the report succeeded`,
      dataCheck: `${got.length} rows, equal to an undisturbed build`,
      recoverMs,
    });
  }, 240_000);
});
