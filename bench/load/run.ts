/**
 * A load run of the whole system: the five built services (web-api, etl-worker, scheduler,
 * report-worker, mailer) on a scratch database and queue prefix, against the Odoo simulator in its
 * own process, take mixed API traffic for several minutes while full syncs commit back to back: finance reads
 * across routes by a viewer, a finance user and an admin, sync triggers, report requests, sync
 * state and run polling. Prints the error rate, the p50/p99 per route, and the RSS of every
 * service at start and end (and its peak, sampled each second).
 *
 *   pnpm exec turbo run build --filter=web-api --filter=etl-worker --filter=scheduler \
 *     --filter=report-worker --filter=mailer --filter=@finanzas/odoo-sim
 *   pnpm exec tsx bench/load/run.ts [seconds=180] [connections=16] [scale=2]
 *
 * An "error" is a 5xx, a transport failure, or a status the request's role must not get (a 4xx
 * other than the expected 409/429 of a duplicate sync or a full report queue). The run fails
 * (exit 1) when the error rate passes 0.1 % or a service exits.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createTestDatabase,
  deleteQueueKeys,
  freePort,
  type ServiceProcess,
  startNode,
  startProcess,
  TEST_REDIS_URL,
  testQueuePrefix,
  waitForHttpOk,
} from "../../packages/testing/src/index.js";

const SECONDS = Number(process.argv[2] ?? 180);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const SCALE = Number(process.argv[4] ?? 2);
const root = fileURLToPath(new URL("../../", import.meta.url));
const entry = (app: string) => join(root, "apps", app, "dist", "main.js");
const secret = () => randomBytes(36).toString("base64url");

const database = await createTestDatabase("load");
const prefix = testQueuePrefix("load");
const reportsDir = await mkdtemp(join(tmpdir(), "finanzas-load-reports-"));
const [apiPort, simPort, ...healthPorts] = await Promise.all([
  freePort(),
  freePort(),
  freePort(),
  freePort(),
  freePort(),
  freePort(),
  freePort(),
]);

const odooPassword = secret();
// The simulator in its own process: a server that takes 20 ms a page and serves 4 requests at once,
// so the full sync runs for a while and commits batch after batch under the API's traffic.
const sim = startNode(
  [
    join(root, "packages/odoo-sim/dist/cli.js"),
    `--port=${simPort}`,
    `--scale=${SCALE}`,
    "--seed=11",
    "--latency-ms=20",
    "--workers=4",
    // production refuses the simulator's published default password
    `--password=${odooPassword}`,
  ],
  {},
);
await waitUntil(
  async () => (await fetch(`http://127.0.0.1:${simPort}/web/webclient/version_info`, post({}))).ok,
);

const adminEmail = "load-admin@finanzas.test";
const adminPassword = secret();
const common: Record<string, string> = {
  NODE_ENV: "production",
  LOG_LEVEL: "warn",
  LOG_FORMAT: "json",
  DATABASE_URL: database.url,
  REDIS_URL: TEST_REDIS_URL,
  QUEUE_PREFIX: prefix,
  SHUTDOWN_TIMEOUT_MS: "10000",
  REPORTS_DIR: reportsDir,
  MAIL_UNSUBSCRIBE_SECRET: secret(),
};
const services: Record<string, ServiceProcess> = {
  "etl-worker": startProcess(entry("etl-worker"), {
    ...common,
    HEALTH_PORT: String(healthPorts[0]),
    ODOO_URL: `http://127.0.0.1:${simPort}`,
    ODOO_DB: "odoo",
    ODOO_USERNAME: "admin",
    ODOO_PASSWORD: odooPassword,
  }),
  scheduler: startProcess(entry("scheduler"), { ...common, HEALTH_PORT: String(healthPorts[1]) }),
  "report-worker": startProcess(entry("report-worker"), { ...common, HEALTH_PORT: String(healthPorts[2]) }),
  mailer: startProcess(entry("mailer"), {
    ...common,
    HEALTH_PORT: String(healthPorts[3]),
    SMTP_URL: "smtp://127.0.0.1:1",
    MAIL_FROM: "Finanzas <cobranza@finanzas.test>",
  }),
  "web-api": startProcess(entry("web-api"), {
    ...common,
    PORT: String(apiPort),
    HOST: "127.0.0.1",
    JWT_SECRET: secret(),
    ADMIN_EMAIL: adminEmail,
    ADMIN_PASSWORD: adminPassword,
    // One load generator is one client address: the per-client limit would measure itself.
    RATE_LIMIT_MAX: "1000000",
    RATE_LIMIT_WINDOW_SECONDS: "1",
    REPORT_MAX_ACTIVE_PER_USER: "3",
  }),
};
const exits: string[] = [];
for (const [name, proc] of Object.entries(services)) {
  void proc.exited.then(({ code, signal }) => {
    if (!stopping)
      exits.push(`${name} exited (${signal ?? code}) during the run:\n${proc.output().slice(-2000)}`);
  });
}
let stopping = false;
let started = Date.now();
const api = `http://127.0.0.1:${apiPort}`;
await waitForHttpOk(`${api}/health/ready`, services["web-api"] as ServiceProcess, 60_000);
for (const [i, name] of ["etl-worker", "scheduler", "report-worker", "mailer"].entries()) {
  await waitForHttpOk(
    `http://127.0.0.1:${healthPorts[i]}/health/ready`,
    services[name] as ServiceProcess,
    60_000,
  );
}

// ── users ──────────────────────────────────────────────────────────────────────────────────────
const admin = await firstLogin(adminEmail, adminPassword);
const tokens: Record<string, string> = { admin };
for (const role of ["finance", "viewer"] as const) {
  const email = `load-${role}@finanzas.test`;
  const password = secret();
  const created = await fetch(`${api}/api/v1/users`, {
    ...post({ email, password, role }),
    headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
  });
  if (created.status !== 201)
    throw new Error(`creating the ${role} user: ${created.status} ${await created.text()}`);
  tokens[role] = await firstLogin(email, password);
}

// A first sync so reads have data, then the full sync that commits during the traffic.
const first = await startSync("full");
await waitForRun(first, 600_000);
const rssStart = Object.fromEntries(Object.entries(services).map(([n, p]) => [n, rssMb(p.child.pid)]));
const peak: Record<string, number> = { ...rssStart };
const sampler = setInterval(() => {
  for (const [n, p] of Object.entries(services)) peak[n] = Math.max(peak[n] ?? 0, rssMb(p.child.pid));
}, 1000);
// RSS of every service every 30 s through the traffic, to see whether it levels off.
const rssEvery30s: Record<string, number[]> = Object.fromEntries(
  Object.keys(services).map((n) => [n, [rssStart[n] ?? 0]]),
);
const rssTimeline = setInterval(() => {
  for (const [n, p] of Object.entries(services)) rssEvery30s[n]?.push(rssMb(p.child.pid));
}, 30_000);
// Full syncs back to back for the whole traffic. Each first makes the copy stale on purpose (every
// journal item's label changed locally), so it rewrites each of them, committing batch after batch
// under the reads; with the copy already equal to the source it would find nothing to write.
function makeStale(): void {
  const staled = spawnSync(
    "psql",
    [database.url, "-v", "ON_ERROR_STOP=1", "-qc", "update odoo.account_move_line set name = coalesce(name, '') || ' (stale)'"],
    { encoding: "utf8" },
  );
  if (staled.status !== 0) throw new Error(`making the copy stale: ${staled.stderr}`);
}
const syncsDuringLoad: RunDetails[] = [];
async function syncsBackToBack(): Promise<void> {
  while (Date.now() < end) {
    makeStale();
    const id = await startSync("full");
    syncsDuringLoad.push(await waitForRun(id, 600_000, false));
  }
}

// ── the traffic ────────────────────────────────────────────────────────────────────────────────
interface Target {
  route: string;
  role: "admin" | "finance" | "viewer";
  weight: number;
  request: () => { method: string; path: string; body?: unknown };
  /** Statuses that are a correct answer besides 2xx/304 (a duplicate sync, a full report queue). */
  expected?: number[];
}
const today = new Date().toISOString().slice(0, 10);
const yearStart = `${today.slice(0, 4)}-01-01`;
const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)] as T;
const targets: Target[] = [
  {
    route: "GET /invoices",
    role: "viewer",
    weight: 20,
    request: () => ({
      method: "GET",
      path: `/api/v1/invoices?limit=50${pick(["", "&sort=-amountTotal", "&state=posted", "&overdue=true"])}`,
    }),
  },
  {
    route: "GET /partners",
    role: "viewer",
    weight: 10,
    request: () => ({ method: "GET", path: `/api/v1/partners?limit=50${pick(["", "&q=a"])}` }),
  },
  {
    route: "GET /payments",
    role: "finance",
    weight: 8,
    request: () => ({ method: "GET", path: "/api/v1/payments?limit=50" }),
  },
  {
    route: "GET /accounts",
    role: "viewer",
    weight: 5,
    request: () => ({ method: "GET", path: "/api/v1/accounts?limit=100" }),
  },
  {
    route: "GET /journal-items",
    role: "finance",
    weight: 10,
    request: () => ({ method: "GET", path: `/api/v1/journal-items?limit=100&dateFrom=${yearStart}` }),
  },
  {
    route: "GET /aging",
    role: "finance",
    weight: 6,
    request: () => ({ method: "GET", path: `/api/v1/aging?kind=${pick(["receivable", "payable"])}` }),
  },
  {
    route: "GET /dashboard",
    role: "viewer",
    weight: 6,
    request: () => ({ method: "GET", path: "/api/v1/dashboard" }),
  },
  { route: "GET /me", role: "viewer", weight: 4, request: () => ({ method: "GET", path: "/api/v1/me" }) },
  {
    route: "GET /sync/state",
    role: "admin",
    weight: 3,
    request: () => ({ method: "GET", path: "/api/v1/sync/state" }),
  },
  {
    route: "GET /sync/runs",
    role: "finance",
    weight: 3,
    request: () => ({ method: "GET", path: "/api/v1/sync/runs?limit=20" }),
  },
  {
    route: "POST /sync/runs",
    role: "finance",
    weight: 1,
    expected: [409, 429],
    request: () => ({ method: "POST", path: "/api/v1/sync/runs", body: { mode: "incremental" } }),
  },
  {
    route: "POST /reports",
    role: "finance",
    weight: 1,
    expected: [429],
    request: () => ({
      method: "POST",
      path: "/api/v1/reports",
      body: pick([
        { kind: "trial-balance", params: { dateFrom: yearStart, dateTo: today } },
        { kind: "aged-balance", params: { type: "receivable", asOf: today } },
        { kind: "invoice-register", params: {} },
      ]),
    }),
  },
  {
    route: "GET /reports",
    role: "finance",
    weight: 2,
    request: () => ({ method: "GET", path: "/api/v1/reports?limit=20" }),
  },
];
const wheel = targets.flatMap((t) => Array.from({ length: t.weight }, () => t));
const stats = new Map<
  string,
  { ms: number[]; errors: number; statuses: Map<number, number>; samples: string[] }
>();
for (const t of targets) stats.set(t.route, { ms: [], errors: 0, statuses: new Map(), samples: [] });

started = Date.now();
const end = started + SECONDS * 1000;
const syncing = syncsBackToBack();
async function connection(): Promise<void> {
  while (Date.now() < end) {
    const target = pick(wheel);
    const { method, path, body } = target.request();
    const s = stats.get(target.route)!;
    const t0 = performance.now();
    let status = 0;
    let text = "";
    try {
      const response = await fetch(`${api}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${tokens[target.role]}`,
          "accept-encoding": "gzip",
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      text = String(error);
    }
    s.ms.push(performance.now() - t0);
    s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
    const ok = (status >= 200 && status < 300) || status === 304 || (target.expected ?? []).includes(status);
    if (!ok) {
      s.errors++;
      if (s.samples.length < 3) s.samples.push(`${status} ${text.slice(0, 200)}`);
    }
  }
}
await Promise.all(Array.from({ length: CONNECTIONS }, () => connection()));
const elapsed = (Date.now() - started) / 1000;
clearInterval(rssTimeline);
const syncError = await syncing.then(
  () => undefined,
  (error: unknown) => String(error),
);
clearInterval(sampler);
// How much of the traffic's window had a full sync running (committing) under it.
const covered = syncsDuringLoad.reduce(
  (sum, r) => sum + Math.max(0, Math.min(r.finishedAt, end) - Math.max(r.startedAt, started)),
  0,
);
const syncFailed = syncError !== undefined || syncsDuringLoad.some((r) => r.status !== "succeeded");
const rssEnd = Object.fromEntries(Object.entries(services).map(([n, p]) => [n, rssMb(p.child.pid)]));

// ── results ────────────────────────────────────────────────────────────────────────────────────
const q = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number) : 0;
};
let total = 0;
let errors = 0;
console.log(
  `\n${SECONDS} s, ${CONNECTIONS} connections, simulator scale ${SCALE}; ${syncsDuringLoad.length} full syncs back to back under the traffic (${syncsDuringLoad.map((r) => `${r.status} ${r.upserted} rows in ${((r.finishedAt - r.startedAt) / 1000).toFixed(1)} s`).join("; ")}), a sync running for ${((100 * covered) / (SECONDS * 1000)).toFixed(0)} % of the traffic${syncError ? `; sync loop failed: ${syncError}` : ""}\n`,
);
console.log("| route | role | requests | req/s | p50 ms | p99 ms | max ms | errors | statuses |");
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
for (const t of targets) {
  const s = stats.get(t.route)!;
  total += s.ms.length;
  errors += s.errors;
  const statuses = [...s.statuses]
    .sort(([a], [b]) => a - b)
    .map(([k, v]) => `${k}×${v}`)
    .join(" ");
  console.log(
    `| ${t.route} | ${t.role} | ${s.ms.length} | ${(s.ms.length / elapsed).toFixed(1)} | ${q(s.ms, 0.5).toFixed(0)} | ${q(s.ms, 0.99).toFixed(0)} | ${Math.max(0, ...s.ms).toFixed(0)} | ${s.errors} | ${statuses} |`,
  );
}
const rate = total ? errors / total : 0;
console.log(
  `\nrequests ${total} (${(total / elapsed).toFixed(0)}/s), errors ${errors} (${(rate * 100).toFixed(3)} %)`,
);
console.log("\n| service | RSS at start MB | RSS at end MB | peak sampled MB |");
console.log("| --- | ---: | ---: | ---: |");
for (const name of Object.keys(services)) {
  console.log(`| ${name} | ${rssStart[name]} | ${rssEnd[name]} | ${peak[name]} |`);
}
console.log("\nRSS every 30 s (MB), from the start of the traffic:");
for (const [name, xs] of Object.entries(rssEvery30s)) console.log(`  ${name}: ${xs.join(", ")}`);
for (const s of stats.values()) for (const sample of s.samples) console.log(`sample error: ${sample}`);
for (const exit of exits) console.log(exit);

stopping = true;
await Promise.all(Object.values(services).map((p) => p.stop("SIGTERM")));
await sim.stop("SIGTERM");
await deleteQueueKeys(prefix, TEST_REDIS_URL);
await database.drop();
await rm(reportsDir, { recursive: true, force: true });
const failed = rate > 0.001 || exits.length > 0 || syncFailed;
console.log(
  failed
    ? "\nFAILED: error rate above 0.1 %, a service exited or a sync under the traffic did not succeed"
    : "\nerror rate ≤ 0.1 %, every service up, every sync under the traffic succeeded: ok",
);
process.exit(failed ? 1 : 0);

// ── helpers ────────────────────────────────────────────────────────────────────────────────────
function post(body: unknown): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function login(email: string, password: string): Promise<string> {
  const response = await fetch(`${api}/api/v1/auth/login`, post({ email, password }));
  const body = (await response.json()) as { accessToken?: string };
  if (!response.ok || !body.accessToken)
    throw new Error(`login ${email}: ${response.status} ${JSON.stringify(body)}`);
  return body.accessToken;
}

/**
 * In production an account whose password someone else set (ADMIN_PASSWORD, a user an admin
 * created) must choose its own before anything else: signed in, its password changed, signed in again.
 */
async function firstLogin(email: string, password: string): Promise<string> {
  const token = await login(email, password);
  const newPassword = secret();
  const changed = await fetch(`${api}/api/v1/auth/password`, {
    ...post({ currentPassword: password, newPassword }),
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
  });
  if (!changed.ok) throw new Error(`changing ${email}'s password: ${changed.status} ${await changed.text()}`);
  return login(email, newPassword);
}

async function startSync(mode: "full" | "incremental"): Promise<string> {
  const response = await fetch(`${api}/api/v1/sync/runs`, {
    ...post({ mode }),
    headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
  });
  const body = (await response.json()) as { runId?: string };
  const id = body.runId;
  if (!id) throw new Error(`sync ${mode}: ${response.status} ${JSON.stringify(body)}`);
  return id;
}

interface RunDetails {
  status: string;
  upserted: number;
  startedAt: number;
  finishedAt: number;
}

async function runDetails(id: string): Promise<RunDetails | string> {
  const response = await fetch(`${api}/api/v1/sync/runs/${id}`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  const body = (await response.json()) as {
    status?: string;
    upserted?: number;
    startedAt?: string | null;
    finishedAt?: string | null;
  };
  if (!body.status) return `HTTP ${response.status}`;
  if (!body.startedAt || !body.finishedAt) return body.status;
  return {
    status: body.status,
    upserted: body.upserted ?? 0,
    startedAt: Date.parse(body.startedAt),
    finishedAt: Date.parse(body.finishedAt),
  };
}

/** Waits for a run to end: its details; throws when it did not succeed and `mustSucceed`. */
async function waitForRun(id: string, timeoutMs: number, mustSucceed = true): Promise<RunDetails> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await runDetails(id);
    if (typeof run === "object") {
      if (mustSucceed && run.status !== "succeeded") throw new Error(`sync ${id} ended ${run.status}`);
      return run;
    }
    if (Date.now() > deadline) throw new Error(`sync ${id} is still ${run}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}
