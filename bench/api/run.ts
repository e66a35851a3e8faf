/**
 * API throughput: the invoice list over 100 000 synthetic invoices, cached (Redis, the default)
 * and uncached (CACHE_TTL_SECONDS=0: every request goes to PostgreSQL), against a bare Fastify
 * hello-world, in the same run, each server in its own process, autocannon in this one.
 *
 *   pnpm exec turbo run build --filter=web-api && pnpm --filter web-api bench [invoices] [seconds]
 *
 * BENCH_CPU_PROF=<dir> starts the cached server with `node --cpu-prof` (the profile lands in <dir>
 * when it stops); `node bench/api/profile.mjs <file.cpuprofile>` sums self time per function and package.
 *
 * Targets: cached list ≥ 50% of hello-world's requests/s, judged as a browser asks for
 * it (Accept-Encoding: gzip); uncached list p99 < 50 ms at 10 concurrent clients.
 * The ratio's targets run in BENCH_API_ROUNDS rounds (default 5); the median of the per-round
 * ratios is the figure. Each round also measures bare Fastify answering the cached page's own bytes
 * and headers: the floor of that response, with no framework work besides routing.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { ensureModelTables } from "@finanzas/ledger";
import { createDb } from "../../packages/db/src/index.js";
import {
  createTestDatabase,
  freePort,
  startProcess,
  TEST_REDIS_URL,
  waitForHttpOk,
} from "../../packages/testing/src/index.js";
import { deleteQueueKeys } from "../../packages/testing/src/queue.js";
import { cpuSecondsOf } from "../proc.js";
import { freshSecret, signInAsFirstAdmin } from "./sign-in.js";

const require = createRequire(new URL("../../apps/web-api/package.json", import.meta.url));
type Result = {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
};
type Measured = Result & { label: string; cpuUs: number; clientUs: number; clientBusy: number };
const autocannon = require("autocannon") as (opts: Record<string, unknown>) => Promise<Result>;

const INVOICES = Number(process.argv[2] ?? 100_000);
const SECONDS = Number(process.argv[3] ?? 10);
const CONNECTIONS = 10;
const ROUNDS = Number(process.env.BENCH_API_ROUNDS ?? 5);
const ENTRY = fileURLToPath(new URL("../../apps/web-api/dist/main.js", import.meta.url));
const PASSWORD = freshSecret();
const JWT_SECRET = freshSecret();
const MAIL_UNSUBSCRIBE_SECRET = freshSecret();

async function seed(url: string): Promise<void> {
  const database = createDb({ url, max: 2 });
  await ensureModelTables(database.db);
  const q = (text: string) => database.pool.query(text);
  await q(
    `insert into odoo.res_currency (id, name, symbol, decimal_places, active) values (1, 'EUR', '€', 2, true), (2, 'USD', '$', 2, true)`,
  );
  await q(`insert into odoo.res_company (id, name, currency_id) values (1, 'Bench S.L.', 1)`);
  await q(`insert into odoo.res_partner (id, name, ref, vat, customer_rank, supplier_rank, active, company_id)
    select g, 'Partner ' || g, 'P' || g, 'ES' || (10000000 + g), 1, (g % 3 = 0)::int, true, 1 from generate_series(1, 2000) g`);
  await q(`insert into odoo.account_move (id, name, move_type, state, payment_state, date, invoice_date, invoice_date_due,
      ref, partner_id, journal_id, company_id, currency_id, amount_untaxed, amount_tax, amount_total, amount_residual, write_date)
    select g, 'INV/' || lpad(g::text, 7, '0'),
      (array['out_invoice','out_invoice','out_invoice','in_invoice','out_refund'])[1 + g % 5],
      case when g % 10 = 0 then 'draft' else 'posted' end,
      (array['not_paid','paid','partial','in_payment'])[1 + g % 4],
      d, d, d + 30, 'REF-' || g, 1 + g % 2000, 1, 1, 1 + (g % 7 = 0)::int,
      a, round(a * 0.21, 2), round(a * 1.21, 2), case when g % 4 = 1 then 0 else round(a * 1.21, 2) end, now()
    from (select g, date '2021-01-01' + (g::bigint * 7919 % 1800)::int as d, round((100 + (g::bigint * 104729 % 1000000) / 100.0)::numeric, 2) as a
          from generate_series(1, ${INVOICES}) g) s`);
  await q("analyze");
  await database.close();
}

/**
 * One target: warm-up, then the measured run; also the server's own CPU time per request (µs),
 * which does not depend on how the load generator shares the cores.
 */
async function measure(
  label: string,
  url: string,
  server: { child: { pid?: number | undefined } },
  headers: Record<string, string> = {},
): Promise<Measured> {
  await autocannon({ url, connections: CONNECTIONS, duration: 2, headers }); // warm-up
  const before = cpuSecondsOf(server.child.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
  const served = Math.max(1, result.requests.total);
  const cpuUs = ((cpuSecondsOf(server.child.pid) - before) * 1e6) / served;
  // The load generator's own CPU (this process): when it is near one core, autocannon is the limit.
  const client = process.cpuUsage(clientBefore);
  const clientCpuUs = client.user + client.system;
  const clientUs = clientCpuUs / served;
  const clientBusy = clientCpuUs / 1000 / (performance.now() - started);
  if (result.non2xx || result.errors)
    throw new Error(`${label}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { ...result, label, cpuUs, clientUs, clientBusy };
}

const BROWSER_ACCEPT_ENCODING = "gzip, deflate, br, zstd";
const database = await createTestDatabase("bench_api");
const prefixes = ["bench-api-cached", "bench-api-uncached"].map((p) => `${p}-${process.pid}`);
const procs: ReturnType<typeof startProcess>[] = [];
try {
  const started = Date.now();
  await seed(database.url);
  console.log(`seeded ${INVOICES} invoices in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const api = async (prefix: string, env: Record<string, string>, args: string[] = []) => {
    const port = await freePort();
    const proc = startProcess(
      ENTRY,
      {
        NODE_ENV: "production",
        LOG_LEVEL: "warn",
        LOG_FORMAT: "json",
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PORT: String(port),
        HOST: "127.0.0.1",
        JWT_SECRET,
        MAIL_UNSUBSCRIBE_SECRET,
        ADMIN_EMAIL: "bench@example.com",
        ADMIN_PASSWORD: PASSWORD,
        // the load generator is one client: 10^6 requests a second is no limit at all
        RATE_LIMIT_MAX: "1000000",
        RATE_LIMIT_WINDOW_SECONDS: "1",
        ...env,
      },
      args,
    );
    procs.push(proc);
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, proc);
    return { port, proc };
  };
  const profileDir = process.env.BENCH_CPU_PROF;
  const { port: cachedPort, proc: cachedProc } = await api(
    prefixes[0]!,
    {},
    profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
  );
  const { port: uncachedPort, proc: uncachedProc } = await api(prefixes[1]!, { CACHE_TTL_SECONDS: "0" });

  const accessToken = await signInAsFirstAdmin(
    `http://127.0.0.1:${cachedPort}`,
    "bench@example.com",
    PASSWORD,
  );
  const headers = { authorization: `Bearer ${accessToken}` };
  const path = "/api/v1/invoices?limit=50";
  const sample = (await (await fetch(`http://127.0.0.1:${uncachedPort}${path}`, { headers })).json()) as {
    items: unknown[];
  };
  if (sample.items.length !== 50) throw new Error("the invoice list did not return a full page");
  const hit = (await (
    await fetch(`http://127.0.0.1:${uncachedPort}/api/v1/invoices?q=0054321`, { headers })
  ).json()) as { items: { name: string }[] };
  if (INVOICES >= 54321 && hit.items.map((i) => i.name).join() !== "INV/0054321")
    throw new Error(`the search by number found ${JSON.stringify(hit.items.map((i) => i.name))}`);
  const pageBytes = (await (await fetch(`http://127.0.0.1:${cachedPort}${path}`, { headers })).arrayBuffer())
    .byteLength;
  const helloPort = await freePort();
  const helloProc = startProcess(
    fileURLToPath(new URL("./hello.mjs", import.meta.url)),
    { PORT: String(helloPort), BODY_BYTES: String(pageBytes) },
    profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}/hello`] : [],
  );
  procs.push(helloProc);
  await waitForHttpOk(`http://127.0.0.1:${helloPort}/`, helloProc);

  const cachedTarget = (gzip: boolean) =>
    measure(
      gzip
        ? "GET /api/v1/invoices?limit=50 (cached, `Accept-Encoding: gzip, deflate, br, zstd` as browsers send)"
        : "GET /api/v1/invoices?limit=50 (cached)",
      `http://127.0.0.1:${cachedPort}${path}`,
      cachedProc,
      gzip ? { ...headers, "accept-encoding": BROWSER_ACCEPT_ENCODING } : headers,
    );
  // The ratio's targets, measured back to back ROUNDS times: this VM's speed drifts by tens of
  // percent within a minute, so each round gives its own ratios and the median of them is the figure.
  // Each round also serves the cached page's bytes and headers from the bare Fastify (the floor for
  // that response), and the order rotates from round to round so that no target always goes first.
  const sameBytesTarget = () =>
    measure(
      "bare Fastify, the cached page's body and headers, pre-encoded",
      `http://127.0.0.1:${helloPort}/body-headers`,
      helloProc,
    );
  const helloTarget = () => measure("bare Fastify hello-world", `http://127.0.0.1:${helloPort}/`, helloProc);
  type Round = { hello: Measured; cached: Measured; gzip: Measured; floor: Measured };
  const rounds: Round[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order: [keyof Round, () => Promise<Measured>][] = [
      ["hello", helloTarget],
      ["cached", () => cachedTarget(false)],
      ["gzip", () => cachedTarget(true)],
      ["floor", sameBytesTarget],
    ];
    const got: Partial<Round> = {};
    for (let i = 0; i < order.length; i++) {
      const [key, run] = order[(i + round) % order.length] as (typeof order)[number];
      got[key] = await run();
    }
    rounds.push(got as Round);
  }
  const others = [
    // hello-world's server answering a pre-encoded body of the page's size: the cost of the bytes
    await measure(
      `bare Fastify, a pre-encoded ${pageBytes}-byte body`,
      `http://127.0.0.1:${helloPort}/body`,
      helloProc,
    ),
    await measure(
      "GET /api/v1/invoices?limit=50 (uncached)",
      `http://127.0.0.1:${uncachedPort}${path}`,
      uncachedProc,
      headers,
    ),
    // a search box: one invoice by (part of) its number, uncached (the trigram index's case)
    await measure(
      "GET /api/v1/invoices?q=0054321 (uncached: search by number)",
      `http://127.0.0.1:${uncachedPort}/api/v1/invoices?q=0054321`,
      uncachedProc,
      headers,
    ),
    // the cheapest route of the API: no auth, no cache, a tiny body: the per-request floor
    await measure("GET /health/live", `http://127.0.0.1:${cachedPort}/health/live`, cachedProc),
    // the same cached path with a small body: per-request overhead apart from moving ~19 KB pages
    await measure(
      "GET /api/v1/invoices?limit=1 (cached, small body)",
      `http://127.0.0.1:${cachedPort}/api/v1/invoices?limit=1`,
      cachedProc,
      headers,
    ),
  ];
  const [sameBytes, uncached, search] = others as [Measured, Measured, Measured];
  const page = await fetch(`http://127.0.0.1:${cachedPort}${path}`, { headers });
  const bytes = (await page.arrayBuffer()).byteLength;
  const head = [...page.headers].map(([k, v]) => `${k}: ${v}`);
  console.log(`\nthe limit=50 page is ${bytes} bytes; hello-world's is 17`);
  console.log(
    `its ${head.length} response headers (${head.join("\r\n").length} bytes; fetch hides connection and keep-alive):\n  ${head.join("\n  ")}`,
  );
  console.log(
    `\n${INVOICES} invoices, ${CONNECTIONS} connections, ${SECONDS} s each, node ${process.version}\n`,
  );
  const row = (r: Measured, round?: number) =>
    console.log(
      `| ${r.label}${round === undefined ? "" : ` (round ${round + 1})`} | ${Math.round(r.requests.average)} | ${r.latency.p50} | ${r.latency.p99} | ${r.latency.max} | ${Math.round(r.cpuUs)} | ${Math.round(r.clientUs)} (${Math.round(r.clientBusy * 100)} %) |`,
    );
  console.log(
    "| target | req/s | p50 ms | p99 ms | max ms | server CPU µs/request | autocannon CPU µs/request (share of a core) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  rounds.forEach((r, i) => {
    row(r.hello, i);
    row(r.cached, i);
    row(r.gzip, i);
    row(r.floor, i);
  });
  for (const r of others) row(r);
  const gzipped = await fetch(`http://127.0.0.1:${cachedPort}${path}`, {
    headers: { ...headers, "accept-encoding": BROWSER_ACCEPT_ENCODING },
  });
  console.log(
    `as a browser asks for it: content-encoding ${gzipped.headers.get("content-encoding")}, ${gzipped.headers.get("content-length")} bytes on the wire`,
  );
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  };
  const rps = (m: Measured) => m.requests.average;
  const plain = rounds.map((r) => rps(r.cached) / rps(r.hello));
  const gzip = rounds.map((r) => rps(r.gzip) / rps(r.hello));
  const floor = rounds.map((r) => rps(r.floor) / rps(r.hello));
  const overFloor = rounds.map((r) => rps(r.cached) / rps(r.floor));
  const list = (xs: number[]) => xs.map(pct).join(", ");
  console.log(`\nper round (median of ${ROUNDS} in brackets):`);
  console.log(`  cached, as a browser asks (gzip) / hello-world: ${list(gzip)} [${pct(median(gzip))}]`);
  console.log(`  cached, without compression / hello-world:      ${list(plain)} [${pct(median(plain))}]`);
  console.log(`  bare Fastify with the same bytes / hello-world: ${list(floor)} [${pct(median(floor))}]`);
  console.log(
    `  cached, without compression / that bare floor:  ${list(overFloor)} [${pct(median(overFloor))}]`,
  );
  console.log(
    `cached list as a browser asks, median ${pct(median(gzip))} of hello-world (target ≥ 50%): ${median(gzip) >= 0.5 ? "met" : "NOT met"}`,
  );
  console.log(
    `without compression ${(median(plain) * 100).toFixed(1)}%, where bare Fastify answering the same bytes gets ${(median(floor) * 100).toFixed(1)}%`,
  );
  console.log(
    `cached (last round) / bare Fastify with the same body size = ${pct(rps((rounds.at(-1) as Round).cached) / rps(sameBytes))}`,
  );
  console.log(
    `uncached p99 = ${uncached.latency.p99} ms (target < 50 ms): ${uncached.latency.p99 < 50 ? "met" : "NOT met"}`,
  );
  console.log(`uncached search by number: p50 ${search.latency.p50} ms, p99 ${search.latency.p99} ms`);
} finally {
  for (const proc of procs) await proc.stop("SIGTERM").catch(() => {});
  await database.drop();
  for (const prefix of prefixes) await deleteQueueKeys(prefix);
}
