/**
 * Report latency at ledger scale: the Odoo simulator (its own process, Odoo 17) synced in full by
 * the built etl-worker (its own process, through the `etl` queue) into a fresh database, then the
 * built web-api uncached (CACHE_TTL_SECONDS=0, as the first read after every sync is) answering the
 * aging report, the dashboard and two indexed reads, one request at a time.
 *
 *   pnpm exec turbo run build --filter=web-api --filter=etl-worker --filter=@finanzas/odoo-sim
 *   pnpm exec tsx bench/api/reports.ts [scale=50] [requests=10]   # scale 50 ≈ 500 000 journal items
 *
 * Compared with, in the same run: one plain pass over the journal items in PostgreSQL
 * (`select sum(balance) from odoo.account_move_line`), the least any figure over the whole ledger
 * costs. No target: the figures guard the query plans (an unanalyzed table once made the
 * dashboard run for over 11 minutes at this scale).
 */
import { fileURLToPath } from "node:url";
import { etlQueue, type RunResult } from "../../packages/contracts/src/index.js";
import { createDb } from "../../packages/db/src/index.js";
import { createProducer, QueueEvents, redisOptions } from "../../packages/queue/src/index.js";
import {
  createTestDatabase,
  freePort,
  startNode,
  startProcess,
  TEST_REDIS_URL,
  waitForHttpOk,
} from "../../packages/testing/src/index.js";
import { deleteQueueKeys } from "../../packages/testing/src/queue.js";
import { freshSecret, signInAsFirstAdmin } from "./sign-in.js";

const SCALE = Number(process.argv[2] ?? 50);
const REQUESTS = Number(process.argv[3] ?? 10);
const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const PASSWORD = freshSecret();
const JWT_SECRET = freshSecret();
const MAIL_UNSUBSCRIBE_SECRET = freshSecret();
const prefix = `bench-reports-${process.pid}`;
const log = (line: string) => process.stdout.write(`${line}\n`);

async function until(
  what: string,
  ready: () => boolean,
  timeoutMs: number,
  output: () => string,
  exited: () => boolean,
) {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline || exited()) throw new Error(`${what} did not get ready:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** p50 and max of `n` sequential runs after one warm-up, in ms. */
async function timed(n: number, run: () => Promise<void>): Promise<{ p50: number; max: number }> {
  await run();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await run();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length / 2)] as number, max: ms.at(-1) as number };
}

const database = await createTestDatabase("bench_reports");
const procs: ReturnType<typeof startProcess>[] = [];
try {
  const simPort = await freePort();
  const sim = startNode(
    [
      root("packages/odoo-sim/dist/cli.js"),
      "--port",
      String(simPort),
      "--scale",
      String(SCALE),
      "--seed",
      "1",
      "--version",
      "17",
    ],
    {},
  );
  procs.push(sim);
  await until(
    "the simulator",
    () => sim.output().includes("simulator ready"),
    300_000,
    sim.output,
    () => sim.child.exitCode !== null,
  );
  log(
    sim
      .output()
      .split("\n")
      .find((l) => l.includes("data:"))
      ?.trim() ?? "",
  );

  const workerPort = await freePort();
  const common = { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix };
  const worker = startProcess(root("apps/etl-worker/dist/main.js"), {
    ...common,
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    HEALTH_PORT: String(workerPort),
    ODOO_URL: `http://127.0.0.1:${simPort}`,
    ODOO_DB: "odoo",
    ODOO_USERNAME: "admin",
    ODOO_PASSWORD: "admin",
    // the simulator's default password, the demo's: let through on this machine nobody reaches
    ALLOW_DEMO_SECRETS: "true",
  });
  procs.push(worker);
  await waitForHttpOk(`http://127.0.0.1:${workerPort}/health/ready`, worker, 60_000);
  const producer = createProducer(etlQueue, { redisUrl: TEST_REDIS_URL, prefix });
  const events = new QueueEvents(etlQueue.name, {
    connection: redisOptions(TEST_REDIS_URL, "worker"),
    prefix,
  });
  await events.waitUntilReady();
  const syncStarted = performance.now();
  const { id } = await producer.add("sync", { mode: "full", requestedBy: "bench" }, { attempts: 1 });
  const result = (await (await producer.queue.getJob(id))!.waitUntilFinished(events)) as RunResult;
  if (result.status !== "succeeded") throw new Error(`the full sync ${result.status}`);
  log(`full sync: ${((performance.now() - syncStarted) / 1000).toFixed(1)} s`);
  await producer.close();
  await events.close();

  const apiPort = await freePort();
  const api = startProcess(root("apps/web-api/dist/main.js"), {
    ...common,
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    PORT: String(apiPort),
    HOST: "127.0.0.1",
    JWT_SECRET,
    MAIL_UNSUBSCRIBE_SECRET,
    ADMIN_EMAIL: "bench@example.com",
    ADMIN_PASSWORD: PASSWORD,
    CACHE_TTL_SECONDS: "0",
    RATE_LIMIT_MAX: "1000000",
  });
  procs.push(api);
  await waitForHttpOk(`http://127.0.0.1:${apiPort}/health/ready`, api, 120_000);
  const accessToken = await signInAsFirstAdmin(`http://127.0.0.1:${apiPort}`, "bench@example.com", PASSWORD);

  const store = createDb({ url: database.url, max: 1 });
  const q = async <T>(text: string) => (await store.pool.query(text)).rows as T[];
  const [counts] = await q<{ lines: number; estimate: number; mid: string }>(
    `select count(*)::int as lines,
       (select reltuples::float8 from pg_class where oid = 'odoo.account_move_line'::regclass) as estimate,
       (select (percentile_disc(0.5) within group (order by date))::text from odoo.account_move_line) as mid
     from odoo.account_move_line`,
  );
  log(
    `${counts!.lines} journal items; PostgreSQL's estimate ${counts!.estimate} (the sync analyzed: ${counts!.estimate === counts!.lines})`,
  );
  const scan = await timed(REQUESTS, async () => {
    await q("select sum(balance) from odoo.account_move_line");
  });
  const targets: [string, string][] = [
    ["aging, receivable, as of today", "/api/v1/aging?kind=receivable"],
    ["aging, payable, as of today", "/api/v1/aging?kind=payable"],
    [
      `aging, receivable, as of ${counts!.mid} (the history)`,
      `/api/v1/aging?kind=receivable&asOf=${counts!.mid}`,
    ],
    ["dashboard, as of today", "/api/v1/dashboard"],
    [`dashboard, as of ${counts!.mid} (the history)`, `/api/v1/dashboard?asOf=${counts!.mid}`],
    ["journal items of an account, first page", "/api/v1/journal-items?accountId=5&limit=50"],
    ["invoices, search by number", "/api/v1/invoices?q=00012&limit=50"],
  ];
  log(`\nscale ${SCALE}, ${REQUESTS} requests each, one at a time, uncached, node ${process.version}\n`);
  log("| read | p50 ms | max ms | p50 / one pass over the journal items |");
  log("| --- | ---: | ---: | ---: |");
  log(
    `| \`select sum(balance) from odoo.account_move_line\` (psql-level) | ${scan.p50.toFixed(0)} | ${scan.max.toFixed(0)} | 1.00 |`,
  );
  for (const [label, path] of targets) {
    const t = await timed(REQUESTS, async () => {
      const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    });
    log(`| ${label} | ${t.p50.toFixed(0)} | ${t.max.toFixed(0)} | ${(t.p50 / scan.p50).toFixed(2)} |`);
  }
  await store.close();
} finally {
  for (const proc of procs.reverse()) await proc.stop("SIGTERM").catch(() => {});
  await database.drop();
  await deleteQueueKeys(prefix);
}
