/**
 * The general ledger over N journal items, end to end (database to finished file): the built
 * report-worker as its own process, against the Python stack in the same run (psycopg2's named
 * cursor feeding openpyxl's write-only workbook, bench/reports/baseline.py), over the same rows.
 *
 *   pnpm exec turbo run build --filter=report-worker
 *   pnpm exec tsx bench/reports/run.ts [items=1000000]
 *
 * Data: a fresh migrated database, the `odoo` tables from @finanzas/ledger's ensureModelTables,
 * the web-api's read indexes (createIndexKeeper), then generated in SQL: 2 companies (EUR, USD),
 * 30 accounts each with codes and types, 2 000 partners, 4 journals each, moves of 2–4 lines
 * (invoices, bills, bank, miscellaneous) named like INV/2023/01234 over 2022–2024, debit and
 * credit with 2 decimals balancing per move, one move in 7 in GBP with its amount_currency; then
 * VACUUM ANALYZE. The ledger covers 2022-01-01 to 2024-12-31: every item is in it.
 *
 * The report-worker (apps/report-worker/dist/main.js, NODE_ENV=production, files in a temporary
 * REPORTS_DIR, its own QUEUE_PREFIX) is started and ready before the clock starts; a `general-ledger`
 * record is created with requestReport and its `build-report` job enqueued (jobId = report id), and
 * the time runs until the record is `succeeded`. The worker's VmRSS is read from /proc every
 * 100 ms: the peak up to the sample where the record's `rows` first passes 250 000 (the worker
 * writes it about once a second), the peak over the whole build, the RSS at those two points
 * (the last at the first sample showing the build's last progress) and once the record is done
 * (the build's thread has ended then); VmHWM at the end is the kernel's own peak. The worker's own
 * CPU counts all its threads (the build's, zlib's, V8's); PostgreSQL's is that of the database's
 * backends. The Python
 * baseline times itself from connect to the saved file and notes its VmRSS at 250 000 items and at
 * the end; the parent samples its VmRSS the same way. Both files are counted afterwards by the same
 * reader (baseline.py count: rows with a date in column A) and must hold N items.
 *
 * Targets: the worker's rows/s ≥ 5× Python's; its peak RSS < 200 MB; its peak over all the rows
 * within 15 % of its peak up to 250 000 rows (a single sample rises and falls with each garbage
 * collection by more than that). Exits 1 when one is missed. The machine's load average is
 * printed with each phase: other work on the same cores slows both sides, not always alike.
 *
 * BENCH_CPU_PROF=<dir> starts the worker under `node --cpu-prof` (the profile lands in <dir> when
 * it stops; `node bench/api/profile.mjs <file>` sums it); BENCH_WORKER_NODE_ARGS adds node flags
 * (space-separated) to the worker; BENCH_REPORTS_PYTHON=0 skips the Python run. BENCH_REPORTS_KEEP=1
 * keeps the generated database and prints its name; BENCH_REPORTS_DATABASE=<name> measures that
 * database as it is (no generation; it must hold the N items); BENCH_REPORTS_ROUNDS=<n> measures both
 * sides n times, the first going first in odd rounds and second in even ones, and judges rows/s on the
 * median of the rounds' ratios; BENCH_WORKER_OUTPUT=<file> keeps the
 * worker's output (e.g. with BENCH_WORKER_NODE_ARGS=--trace-gc); REPORT_BATCH_ROWS is passed on.
 * Python: $PYTHON, else `python3`, else /usr/bin/python3, the first that imports openpyxl and psycopg2.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createIndexKeeper,
  ensureModelTables,
  normalizeReportParams,
  REPORT_SOURCES,
  reportFileName,
  requestReport,
} from "@finanzas/ledger";
import { reportsQueue } from "../../packages/contracts/src/index.js";
import { createDb } from "../../packages/db/src/index.js";
import { createProducer } from "../../packages/queue/src/index.js";
import {
  createTestDatabase,
  deleteQueueKeys,
  freePort,
  markSynced,
  startProcess,
  TEST_ADMIN_DATABASE_URL,
  TEST_REDIS_URL,
  testLogger,
  waitForHttpOk,
} from "../../packages/testing/src/index.js";
import { cpuSecondsOf } from "../proc.js";

const ITEMS = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(ITEMS) || ITEMS < 2)
  throw new Error(`items must be an integer ≥ 2, not ${process.argv[2]}`);
const QUARTER = 250_000;
/** BENCH_REPORTS_ROUNDS: measurements of both sides over the same data (default 1). */
const ROUNDS = Number(process.env.BENCH_REPORTS_ROUNDS ?? 1);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error("BENCH_REPORTS_ROUNDS must be an integer ≥ 1");
const DATE_FROM = "2022-01-01";
const DATE_TO = "2024-12-31";
const ENTRY = fileURLToPath(new URL("../../apps/report-worker/dist/main.js", import.meta.url));
const BASELINE = fileURLToPath(new URL("./baseline.py", import.meta.url));
const APP = "bench-reports";
const log = (line: string) => process.stdout.write(`${line}\n`);
const mb = (kb: number) => Math.round(kb / 1024);
const fmt = (n: number) => Math.round(n).toLocaleString("en");
const uptime = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** VmRSS or VmHWM of a process in kB; 0 once it is gone. */
function statusKb(pid: number | undefined, field: "VmRSS" | "VmHWM"): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A python with openpyxl and psycopg2, or why there is none. */
function findPython(): { python: string } | { problem: string } {
  const candidates = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p);
  const missing: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import openpyxl, psycopg2"], { encoding: "utf8" });
    if (probe.status === 0) return { python };
    missing.push(
      `${python}: ${probe.error ? probe.error.message : (probe.stderr.trim().split("\n").at(-1) ?? "")}`,
    );
  }
  return {
    problem:
      "no python here imports both openpyxl and psycopg2, which the baseline needs:\n" +
      missing.map((m) => `  ${m}`).join("\n") +
      "\ninstall them (Debian: apt-get install python3-openpyxl python3-psycopg2), or set PYTHON to an " +
      "interpreter that has them; BENCH_REPORTS_PYTHON=0 runs the report-worker alone",
  };
}

// ---- the data ----

const CHART: [code: string, name: string, type: string, group: string][] = [
  ["101000", "Cash", "asset_cash", "asset"],
  ["101401", "Bank", "asset_cash", "asset"],
  ["101402", "Bank (foreign currency)", "asset_cash", "asset"],
  ["121000", "Account Receivable", "asset_receivable", "asset"],
  ["121100", "Account Receivable (PoS)", "asset_receivable", "asset"],
  ["131000", "Tax Receivable", "asset_current", "asset"],
  ["141000", "Prepayments", "asset_prepayments", "asset"],
  ["151000", "Fixed Asset", "asset_fixed", "asset"],
  ["161000", "Accumulated Depreciation", "asset_non_current", "asset"],
  ["211000", "Account Payable", "liability_payable", "liability"],
  ["211100", "Account Payable (other)", "liability_payable", "liability"],
  ["251000", "Tax Payable", "liability_current", "liability"],
  ["252000", "Tax Withheld", "liability_current", "liability"],
  ["261000", "Payroll Liabilities", "liability_current", "liability"],
  ["301000", "Capital", "equity", "equity"],
  ["400000", "Product Sales", "income", "income"],
  ["400100", "Service Sales", "income", "income"],
  ["400200", "Export Sales", "income", "income"],
  ["400300", "Intra-community Sales", "income", "income"],
  ["400400", "Rental Income", "income", "income"],
  ["450000", "Other Income", "income_other", "income"],
  ["600000", "Purchases", "expense", "expense"],
  ["600100", "Raw Materials", "expense", "expense"],
  ["610000", "Rent", "expense", "expense"],
  ["620000", "Utilities", "expense", "expense"],
  ["630000", "Professional Services", "expense", "expense"],
  ["640000", "Salaries", "expense", "expense"],
  ["650000", "Travel", "expense", "expense"],
  ["660000", "Bank Fees", "expense", "expense"],
  ["680000", "Depreciation", "expense_depreciation", "expense"],
];
/** The account of chart position `k` (1-based) in company `c`, as SQL over those expressions. */
const account = (c: string, k: string) => `((${c} - 1) * ${CHART.length} + ${k})`;
const JOURNALS = ["INV", "BILL", "BNK1", "MISC"];

async function generate(url: string): Promise<void> {
  const store = createDb({ url, max: 1 }); // one session: the pg_temp functions live in it
  await ensureModelTables(store.db);
  const q = (text: string) => store.pool.query(text);
  await q(`insert into odoo.res_currency (id, name, symbol, rounding, decimal_places, active) values
    (1, 'EUR', '€', 0.01, 2, true), (2, 'USD', '$', 0.01, 2, true), (3, 'GBP', '£', 0.01, 2, true)`);
  await q(`insert into odoo.res_company (id, name, currency_id, active) values
    (1, 'Finanzas Iberia S.L.', 1, true), (2, 'Finanzas Americas Inc.', 2, true)`);
  const chart = CHART.map(
    ([code, name, type, group], i) => `(${i + 1}, '${code}', '${name}', '${type}', '${group}')`,
  ).join(", ");
  await q(`insert into odoo.account_account (id, code, name, account_type, internal_group, reconcile, company_id, active)
    select ${account("c", "k")}, code, name, type, grp, type in ('asset_receivable', 'liability_payable'), c, true
    from (values ${chart}) chart(k, code, name, type, grp), generate_series(1, 2) c`);
  await q(`insert into odoo.account_journal (id, name, code, type, company_id, active)
    select (c - 1) * 4 + j, (array['Customer Invoices', 'Vendor Bills', 'Bank', 'Miscellaneous'])[j],
      (array[${JOURNALS.map((j) => `'${j}'`).join(", ")}])[j], (array['sale', 'purchase', 'bank', 'general'])[j], c, true
    from generate_series(1, 2) c, generate_series(1, 4) j`);
  await q(`insert into odoo.res_partner (id, name, ref, vat, is_company, customer_rank, supplier_rank, active, write_date)
    select g,
      (array['Distribuciones', 'Comercial', 'Industrias', 'Talleres', 'Servicios', 'Construcciones', 'Logística', 'Suministros'])[1 + g % 8]
        || ' ' || (array['Pérez', 'García', 'Martínez', 'López', 'Sánchez', 'Gómez', 'Fernández', 'Díaz', 'Núñez', 'Muñoz'])[1 + (g / 8) % 10]
        || ' ' || g || (array[' S.L.', ' S.A.', ' Inc.', ' & Co. GmbH'])[1 + g % 4],
      'P' || lpad(g::text, 5, '0'), 'ES' || (10000000 + g), true, (g % 3 <> 0)::int, (g % 3 = 0)::int, true, now()
    from generate_series(1, 2000) g`);
  // Moves: blocks of three moves of 2, 3 and 4 lines (9 lines a block); kind by id (0–4 invoice,
  // 5–6 bill, 7–8 bank, 9 miscellaneous), company by tens of moves (3 of 5 in the first), dates
  // rising with the id over 2022–2024 with a few days' jitter, one move in 7 in GBP.
  const moves = Math.ceil(ITEMS / 9) * 3;
  await q(`insert into odoo.account_move (id, name, ref, date, state, move_type, journal_id, company_id, currency_id,
      company_currency_id, partner_id, invoice_date, invoice_date_due, write_date)
    select m, (array[${JOURNALS.map((j) => `'${j}'`).join(", ")}])[kind + 1] || '/' || extract(year from d) || '/' || lpad(m::text, 5, '0'),
      case kind when 0 then 'SO' || lpad((m / 3)::text, 5, '0') when 1 then 'FV-' || (m * 13 % 99991) when 2 then 'PAY/' || m end,
      d, 'posted', (array['out_invoice', 'in_invoice', 'entry', 'entry'])[kind + 1], (c - 1) * 4 + kind + 1, c,
      case when m % 7 = 0 then 3 else c end, c,
      case when kind = 3 then null else 1 + (m::bigint * 7919) % 2000 end,
      case when kind < 2 then d end, case when kind < 2 then d + 30 end, now()
    from (
      select m, case when m % 10 < 5 then 0 when m % 10 < 7 then 1 when m % 10 < 9 then 2 else 3 end as kind,
        1 + ((m / 10) % 5 >= 3)::int as c,
        date '${DATE_FROM}' + least(1095, greatest(0, (m::bigint * 1096 / ${moves})::int + (m * 37) % 9 - 4)) as d
      from generate_series(1, ${moves}) m
    ) s`);
  // Lines: the amount of line p of move m in cents (a tax line a fifth of it); every line but
  // the last of its move goes to an account of the move's kind, and the last balances the move.
  // A move cut short by N keeps its first lines, its last one balancing them.
  await q(`create function pg_temp.cents(m bigint, p int, tax boolean) returns bigint language sql immutable as
    $$ select (1000 + (m * 7919 + p * 104729) % 500000) / case when tax then 5 else 1 end $$`);
  await q(`create function pg_temp.line_sign(kind int, m bigint, p int) returns int language sql immutable as
    $$ select case kind when 0 then -1 when 1 then 1 when 2 then case when m % 2 = 0 then -1 else 1 end
         else case when p % 2 = 0 then 1 else -1 end end $$`);
  await q(`insert into odoo.account_move_line (id, move_id, move_name, date, ref, parent_state, journal_id, company_id,
      company_currency_id, account_id, partner_id, name, display_type, debit, credit, balance, amount_currency,
      currency_id, date_maturity, write_date)
    select i, mv.id, mv.name, mv.date, mv.ref, 'posted', mv.journal_id, mv.company_id, mv.company_currency_id,
      ${account("mv.company_id", "k")}, mv.partner_id, label, display_type,
      greatest(cents, 0) / 100.0, greatest(-cents, 0) / 100.0, cents / 100.0,
      case when mv.currency_id = 3 then round(cents * 0.85) / 100.0 else cents / 100.0 end,
      mv.currency_id, case when is_last and kind < 2 then mv.invoice_date_due end, now()
    from (
      select i, m, kind, is_last,
        case when is_last then -(select coalesce(sum(pg_temp.line_sign(kind, m, q) * pg_temp.cents(m, q, kind < 2 and q = 1 and n = 4)), 0)
                               from generate_series(0, p - 1) q)
             else pg_temp.line_sign(kind, m, p) * pg_temp.cents(m, p, kind < 2 and p = 1 and n = 4) end as cents,
        case
          when is_last then case kind when 0 then 4 + (m % 3 = 0)::int when 1 then 10 + (m % 3 = 0)::int
                                   when 2 then 2 + (m % 7 = 0)::int else 14 end
          when kind = 0 then case when p = 1 and n = 4 then 12 else 16 + (m + p) % 6 end
          when kind = 1 then case when p = 1 and n = 4 then 6 else 22 + (m * 3 + p) % 9 end
          when kind = 2 then case when m % 2 = 0 then 4 else 10 end
          else 1 + (m * 7 + p * 11) % 30
        end as k,
        case
          when is_last and kind < 2 then 'payment_term'
          when kind < 2 and p = 1 and n = 4 then 'tax'
          else 'product'
        end as display_type,
        p, n
      from (
        select i, m, p, n, p = least(n, ${ITEMS} - first + 1) - 1 as is_last,
          case when m % 10 < 5 then 0 when m % 10 < 7 then 1 when m % 10 < 9 then 2 else 3 end as kind
        from (
          select i, b * 3 + case when o < 2 then 1 when o < 5 then 2 else 3 end as m,
            case when o < 2 then o when o < 5 then o - 2 else o - 5 end as p,
            case when o < 2 then 2 when o < 5 then 3 else 4 end as n,
            b * 9 + case when o < 2 then 1 when o < 5 then 3 else 6 end as first
          from (select i, (i - 1) / 9 as b, (i - 1) % 9 as o from generate_series(1, ${ITEMS}) i) g
        ) s
      ) t
    ) l
    join odoo.account_move mv on mv.id = l.m
    cross join lateral (select case
      when l.display_type = 'payment_term' then mv.name
      when l.display_type = 'tax' then case when l.kind = 0 then 'IVA 21% (ventas)' else 'IVA 21% (compras)' end
      when l.kind = 0 then (array['Consultoría mensual', 'Licencia anual', 'Mantenimiento', 'Soporte técnico',
        'Formación', 'Hardware', 'Instalación', 'Transporte', 'Desarrollo a medida', 'Alquiler de equipos',
        'Auditoría', 'Material de oficina'])[1 + (l.m + l.p) % 12] || ' – ' || mv.ref
      when l.kind = 1 then (array['Electricidad', 'Alquiler local', 'Servicios profesionales', 'Materias primas',
        'Telecomunicaciones', 'Seguros', 'Viajes', 'Suministros'])[1 + (l.m + l.p) % 8] || ' ' || mv.ref
      when l.kind = 2 then 'Payment ' || mv.name
      else 'Accrual ' || to_char(mv.date, 'Mon YYYY') || ' #' || l.p
    end as label) x`);
  // Written as a finished first sync leaves it: a report waits for the first sync of what it reads.
  await markSynced(store.db, REPORT_SOURCES["general-ledger"]);
  // The read indexes the web-api keeps (the general ledger reads each account down one of them).
  await createIndexKeeper(store.pool, testLogger("bench-reports")).ensure();
  await q("vacuum analyze");
  const check = await q(`select count(*)::int as items, count(distinct move_id)::int as moves,
      count(*) filter (where currency_id = 3)::int as foreign_items,
      (select count(*)::int from (select move_id from odoo.account_move_line group by move_id having sum(balance) <> 0) u) as unbalanced,
      min(date)::text as first, max(date)::text as last
    from odoo.account_move_line`);
  const row = check.rows[0] as {
    items: number;
    moves: number;
    foreign_items: number;
    unbalanced: number;
    first: string;
    last: string;
  };
  if (row.items !== ITEMS || row.unbalanced !== 0)
    throw new Error(`generated ${row.items} items, ${row.unbalanced} unbalanced moves`);
  log(
    `  ${fmt(row.items)} journal items in ${fmt(row.moves)} moves, ${row.first} to ${row.last}, ${fmt(row.foreign_items)} in GBP; every move balances`,
  );
  await store.close();
}

// ---- measuring ----

interface Side {
  label: string;
  /** Where the memory was at the highest RSS seen (the worker's /metrics), when known. */
  memory?: string;
  items: number;
  seconds: number;
  peakRssMb: number;
  hwmMb: number | null;
  rssAtQuarterMb: number | null;
  /** RSS at the last progress seen before the end, and at how many rows. */
  rssAtEndMb: number;
  endRows: number;
  /** The highest RSS sampled up to 250 000 rows (the worker's; Python's own samples do not say). */
  peakToQuarterMb?: number | null;
  /** RSS once the file is done. */
  rssAfterMb?: number;
  bytes: number;
  file: string;
  cpuSeconds: number;
  postgresCpuSeconds: number;
}

/**
 * CPU seconds of the PostgreSQL backends of `database` other than this bench's own, sampled: each
 * backend's latest figure is kept, so one that ends keeps what it had at the last sample.
 */
function backendCpu(store: ReturnType<typeof createDb>, database: string) {
  const seen = new Map<number, number>();
  const start = new Map<number, number>();
  const sample = async () => {
    const { rows } = await store.pool.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname = $1 and application_name <> $2 and pid <> pg_backend_pid()",
      [database, APP],
    );
    for (const { pid } of rows) {
      const cpu = cpuSecondsOf(pid);
      if (!start.has(pid)) start.set(pid, cpu);
      if (cpu > 0) seen.set(pid, cpu);
    }
  };
  return {
    sample,
    /** CPU used since each backend was first seen (backends that existed before count from then). */
    total: () => [...seen].reduce((n, [pid, cpu]) => n + cpu - (start.get(pid) ?? 0), 0),
  };
}

async function measureWorker(
  database: { name: string; url: string },
  store: ReturnType<typeof createDb>,
): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), "bench-reports-"));
  const prefix = `bench-reports-${process.pid}`;
  const port = await freePort();
  const profileDir = process.env.BENCH_CPU_PROF;
  const worker = startProcess(
    ENTRY,
    {
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      LOG_FORMAT: "json",
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      HEALTH_PORT: String(port),
      REPORTS_DIR: dir,
      ...(process.env.REPORT_BATCH_ROWS ? { REPORT_BATCH_ROWS: process.env.REPORT_BATCH_ROWS } : {}),
    },
    [
      ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
      ...(process.env.BENCH_WORKER_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
    ],
  );
  const producer = createProducer(reportsQueue, { redisUrl: TEST_REDIS_URL, prefix });
  try {
    await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, worker, 60_000);
    const pid = worker.child.pid;
    const cpu = backendCpu(store, database.name);
    await cpu.sample();
    const cpuBefore = cpuSecondsOf(pid);
    const idleRss = mb(statusKb(pid, "VmRSS"));
    let highest: { rss: number; text: string } = { rss: 0, text: "" };
    const sampleMemory = async () => {
      const m = await memoryOf(port);
      if (m && m.rss >= highest.rss) highest = m;
    };
    const day = new Date().toISOString().slice(0, 10);
    const params = normalizeReportParams("general-ledger", { dateFrom: DATE_FROM, dateTo: DATE_TO }, day);

    // no file of an earlier run is reused (a kept database)
    await store.db.deleteFrom("reports.reports").execute();
    const started = performance.now();
    const { report } = await requestReport(store.db, {
      kind: "general-ledger",
      params,
      requestedBy: null,
      fileName: reportFileName("general-ledger", params, day),
    });
    await producer.add("build-report", { reportId: report.id }, { jobId: report.id });
    let peak = 0;
    let atQuarter: number | null = null;
    let atLast: { rows: number; rss: number } | undefined;
    let peakToQuarter = 0;
    let lastCpuSample = 0;
    let printed = 0;
    for (;;) {
      const rss = statusKb(pid, "VmRSS");
      peak = Math.max(peak, rss);
      const record = await store.db
        .selectFrom("reports.reports")
        .select(["status", "rows", "bytes", "storage_key", "error"])
        .where("id", "=", report.id)
        .executeTakeFirstOrThrow();
      const rows = Number(record.rows);
      if (record.status === "running") {
        if (atQuarter === null) {
          peakToQuarter = Math.max(peakToQuarter, rss);
          if (rows >= QUARTER) atQuarter = rss;
        }
        // the first sample at the build's last progress: its RSS is the one at the end of the rows
        // (by the time the record is done the build's thread has ended and its memory is gone)
        if (rows > (atLast?.rows ?? 0)) atLast = { rows, rss };
      }
      if (record.status === "succeeded") {
        const seconds = (performance.now() - started) / 1000;
        const end = statusKb(pid, "VmRSS");
        peak = Math.max(peak, end);
        await cpu.sample();
        const hwm = statusKb(pid, "VmHWM");
        await sampleMemory();
        const file = join(dir, record.storage_key!);
        return {
          label: "report-worker (Node)",
          memory: `idle before the job ${idleRss} MB; at the highest of its /metrics samples (1 s): ${highest.text}`,
          items: rows,
          seconds,
          peakRssMb: mb(peak),
          hwmMb: mb(hwm),
          rssAtQuarterMb: atQuarter === null ? null : mb(atQuarter),
          rssAtEndMb: mb(atLast?.rss ?? end),
          endRows: atLast?.rows ?? rows,
          peakToQuarterMb: atQuarter === null ? null : mb(peakToQuarter),
          rssAfterMb: mb(end),
          bytes: Number(record.bytes ?? statSync(file).size),
          file,
          cpuSeconds: cpuSecondsOf(pid) - cpuBefore,
          postgresCpuSeconds: cpu.total(),
        };
      }
      if (record.status !== "queued" && record.status !== "running")
        throw new Error(`the report ${record.status}: ${record.error}\n${worker.output()}`);
      if (worker.child.exitCode !== null) throw new Error(`the worker exited:\n${worker.output()}`);
      const now = performance.now();
      if (now - lastCpuSample > 1000) {
        lastCpuSample = now;
        await cpu.sample();
        await sampleMemory();
      }
      if (now - started - printed > 10_000) {
        printed = now - started;
        log(`  … ${fmt(rows)} rows after ${(printed / 1000).toFixed(0)} s, RSS ${mb(rss)} MB`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await producer.close();
    const stopped = await worker.stop("SIGTERM");
    if (process.env.BENCH_WORKER_OUTPUT) writeFileSync(process.env.BENCH_WORKER_OUTPUT, worker.output());
    if (stopped.code !== 0) log(`  the worker exited ${stopped.code} on SIGTERM:\n${worker.output()}`);
    await deleteQueueKeys(prefix);
    workerFiles.push(dir);
  }
}
const workerFiles: string[] = [];

/** The worker's memory from its /metrics (prom-client's default metrics): RSS and where it is. */
async function memoryOf(port: number): Promise<{ rss: number; text: string } | undefined> {
  const body = await fetch(`http://127.0.0.1:${port}/metrics`)
    .then((r) => r.text())
    .catch(() => "");
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(body)?.[1] ?? Number.NaN);
  const rss = value("process_resident_memory_bytes");
  if (!Number.isFinite(rss)) return undefined;
  const spaces = [...body.matchAll(/^nodejs_heap_space_size_total_bytes\{[^}]*space="(\w+)"[^}]*\} (\S+)/gm)]
    .filter(([, , v]) => Number(v) >= 1048576)
    .map(([, space, v]) => `${space} ${Math.round(Number(v) / 1048576)}`)
    .join(", ");
  const m = (v: number) => Math.round(v / 1048576);
  return {
    rss,
    text:
      `RSS ${m(rss)} MB = V8 heap ${m(value("nodejs_heap_size_total_bytes"))} MB (${spaces}; used ${m(value("nodejs_heap_size_used_bytes"))}) ` +
      `+ external ${m(value("nodejs_external_memory_bytes"))} MB + the rest (code, stacks, native)`,
  };
}

async function measurePython(
  python: string,
  database: { name: string; url: string },
  store: ReturnType<typeof createDb>,
  generated: string,
): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), "bench-reports-py-"));
  workerFiles.push(dir);
  const file = join(dir, "general-ledger.xlsx");
  const cpu = backendCpu(store, database.name);
  const child = spawn(python, [BASELINE, "ledger", database.url, DATE_FROM, DATE_TO, generated, file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (c) => {
    out += c;
  });
  child.stderr.on("data", (c) => {
    out += c;
  });
  let peak = 0;
  let cpuSeconds = 0;
  let sampling = false;
  const sampler = setInterval(() => {
    peak = Math.max(peak, statusKb(child.pid, "VmRSS"));
    const c = cpuSecondsOf(child.pid);
    if (c > 0) cpuSeconds = c;
    if (!sampling) {
      sampling = true;
      void cpu.sample().finally(() => {
        sampling = false;
      });
    }
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`the Python baseline exited ${code}:\n${out}`);
  const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
    items: number;
    seconds: number;
    rssAtQuarterMb: number | null;
    rssAtEndMb: number;
  };
  return {
    label:
      "Python (psycopg2 named cursor, itersize 2 000, + openpyxl write-only; running balance added up in Python)",
    items: result.items,
    seconds: result.seconds,
    peakRssMb: mb(peak),
    hwmMb: null,
    rssAtQuarterMb: result.rssAtQuarterMb,
    rssAtEndMb: result.rssAtEndMb,
    endRows: result.items,
    bytes: statSync(file).size,
    file,
    cpuSeconds,
    postgresCpuSeconds: cpu.total(),
  };
}

/** Journal items in a finished file, read back the same way whichever program wrote it. */
function countItems(python: string, file: string): number {
  const run = spawnSync(python, [BASELINE, "count", file], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`counting ${file}: ${run.stderr}`);
  return (JSON.parse(run.stdout.trim()) as { items: number }).items;
}

// ---- the run ----

const runPython = process.env.BENCH_REPORTS_PYTHON !== "0";
const found = runPython ? findPython() : undefined;
if (found && "problem" in found) {
  process.stderr.write(`bench/reports/run.ts: ${found.problem}\n`);
  process.exit(1);
}
const python = found && "python" in found ? found.python : undefined;
try {
  statSync(ENTRY);
} catch {
  process.stderr.write(
    `bench/reports/run.ts: ${ENTRY} is missing: pnpm exec turbo run build --filter=report-worker\n`,
  );
  process.exit(1);
}

log(
  `general ledger ${DATE_FROM} to ${DATE_TO} over ${fmt(ITEMS)} journal items; node ${process.version}${python ? `, ${python}` : ""}; load average ${uptime()}`,
);
const reuse = process.env.BENCH_REPORTS_DATABASE;
const database = reuse
  ? (() => {
      const u = new URL(TEST_ADMIN_DATABASE_URL);
      u.pathname = `/${reuse}`;
      return { name: reuse, url: u.toString(), drop: async () => {} };
    })()
  : await createTestDatabase("bench_reports_gl");
const url = new URL(database.url);
url.searchParams.set("application_name", APP);
const store = createDb({ url: url.toString(), max: 2 });
let failed = false;
try {
  const generating = performance.now();
  if (reuse) log(`database ${reuse} as it is (BENCH_REPORTS_DATABASE)`);
  else await generate(database.url);
  if (!reuse)
    log(
      `generated in ${((performance.now() - generating) / 1000).toFixed(1)} s (SQL, with indexes and VACUUM ANALYZE)`,
    );

  // Rounds alternate which side goes first, so that neither always meets the same part of a
  // drifting machine; the rows/s target is judged on the median of the rounds' ratios.
  interface Round {
    sides: Side[];
    counted: number[];
    load: string;
  }
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const tag = ROUNDS > 1 ? ` (round ${r + 1} of ${ROUNDS})` : "";
    const runOurs = async () => {
      log(`report-worker${tag}… (load average ${uptime()})`);
      const ours = await measureWorker(database, store);
      log(`  ${fmt(ours.items)} rows in ${ours.seconds.toFixed(1)} s`);
      return ours;
    };
    const runPython = async (py: string) => {
      log(`Python${tag}… (load average ${uptime()})`);
      const generated = new Date().toISOString().replace("T", " ").slice(0, 16);
      const theirs = await measurePython(py, database, store, generated);
      log(`  ${fmt(theirs.items)} rows in ${theirs.seconds.toFixed(1)} s`);
      return theirs;
    };
    const load = uptime();
    let sides: Side[];
    if (!python) sides = [await runOurs()];
    else if (r % 2 === 0) sides = [await runOurs(), await runPython(python)];
    else {
      const theirs = await runPython(python);
      sides = [await runOurs(), theirs];
    }
    log(`load average after: ${uptime()}`);
    const counted = python ? sides.map((s) => countItems(python, s.file)) : [];
    for (const dir of workerFiles.splice(0)) rmSync(dir, { recursive: true, force: true });
    rounds.push({ sides, counted, load: `${load} → ${uptime()}` });
  }

  const rate = (s: Side) => s.items / s.seconds;
  const q = fmt(QUARTER);
  log("");
  log(
    `| ${ROUNDS > 1 ? "round | " : ""}program | item rows (its count / read back from the file) | seconds | rows/s | peak RSS (100 ms samples) | RSS at ${q} rows → at the last rows seen | CPU s (its own / PostgreSQL backends) | file |`,
  );
  log(`| ${ROUNDS > 1 ? "--: | " : ""}--- | --: | --: | --: | --: | --: | --: | --: |`);
  rounds.forEach(({ sides, counted }, r) => {
    sides.forEach((s, i) => {
      const flat =
        s.rssAtQuarterMb === null
          ? `– → ${s.rssAtEndMb} MB`
          : `${s.rssAtQuarterMb} → ${s.rssAtEndMb} MB at ${fmt(s.endRows)}${s.peakToQuarterMb ? ` (peak to ${q}: ${s.peakToQuarterMb} MB)` : ""}${s.rssAfterMb === undefined ? "" : `; ${s.rssAfterMb} MB once done`}`;
      log(
        `| ${ROUNDS > 1 ? `${r + 1} | ` : ""}${s.label} | ${fmt(s.items)} / ${counted[i] === undefined ? "–" : fmt(counted[i]!)} | ${s.seconds.toFixed(1)} | ${fmt(rate(s))} | ${s.peakRssMb} MB${s.hwmMb === null ? "" : ` (VmHWM ${s.hwmMb} MB)`} | ${flat} | ${s.cpuSeconds.toFixed(1)} / ${s.postgresCpuSeconds.toFixed(1)} | ${(s.bytes / 1048576).toFixed(1)} MB |`,
      );
    });
  });
  rounds.forEach(({ sides, load }, r) => {
    for (const s of sides)
      if (s.memory) log(`${ROUNDS > 1 ? `round ${r + 1}, ` : ""}${s.label}: ${s.memory}`);
    if (ROUNDS > 1) log(`round ${r + 1}: load average ${load}`);
  });
  log("");

  const verdict = (ok: boolean, text: string) => {
    if (!ok) failed = true;
    log(`${ok ? "met   " : "MISSED"} ${text}`);
  };
  for (const { sides, counted } of rounds) {
    for (const [i, s] of sides.entries()) {
      if (s.items !== ITEMS || (counted[i] !== undefined && counted[i] !== ITEMS))
        verdict(false, `${s.label}: ${s.items} item rows (file: ${counted[i]}), not ${ITEMS}`);
    }
  }
  if (python) {
    const ratios = rounds.map(({ sides }) => rate(sides[0]!) / rate(sides[1]!));
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
    const cpu = rounds.map(
      ({ sides }) =>
        (sides[1]!.cpuSeconds + sides[1]!.postgresCpuSeconds) /
        (sides[0]!.cpuSeconds + sides[0]!.postgresCpuSeconds),
    );
    verdict(
      median >= 5,
      `rows/s: ${median.toFixed(2)}× the Python baseline${ROUNDS > 1 ? ` (median of ${ratios.map((x) => x.toFixed(2)).join(", ")})` : ""} (target ≥ 5×); CPU seconds, each side with its PostgreSQL backends: ${cpu.map((x) => x.toFixed(2)).join(", ")}× fewer`,
    );
  }
  const worst = rounds.map(({ sides }) => sides[0]!).sort((a, b) => b.peakRssMb - a.peakRssMb)[0]!;
  verdict(worst.peakRssMb < 200, `peak RSS: ${worst.peakRssMb} MB (target < 200 MB)`);
  if (worst.rssAtQuarterMb === null || ITEMS <= QUARTER) {
    log(`–      RSS flatness: needs more than ${q} items`);
  } else {
    // The peak does not grow with the rows: the highest RSS up to 250 000 rows against the
    // highest over all of them (a sampled RSS rises and falls with each collection by more than
    // 15 %, so two single samples would judge the collector's timing, not the growth).
    for (const [r, { sides }] of rounds.entries()) {
      const ours = sides[0]!;
      const quarterPeak = ours.peakToQuarterMb ?? ours.rssAtQuarterMb ?? ours.peakRssMb;
      const growth = (ours.peakRssMb - quarterPeak) / quarterPeak;
      verdict(
        growth <= 0.15,
        `${ROUNDS > 1 ? `round ${r + 1}: ` : ""}peak RSS up to ${q} rows ${quarterPeak} MB, up to ${fmt(ours.items)} ${ours.peakRssMb} MB: +${(growth * 100).toFixed(1)} % (target within 15 %); RSS at ${q} rows ${ours.rssAtQuarterMb} MB, at ${fmt(ours.endRows)} ${ours.rssAtEndMb} MB`,
      );
    }
  }
} finally {
  await store.close();
  if (process.env.BENCH_REPORTS_KEEP === "1" && !reuse)
    log(`kept the database: BENCH_REPORTS_DATABASE=${database.name} reuses it; drop it when done`);
  else await database.drop();
  for (const dir of workerFiles) rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
