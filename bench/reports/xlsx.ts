/**
 * The report-worker's streaming .xlsx writer against exceljs's streaming WorkbookWriter, on the
 * shape of a general ledger: rows × 9 columns (2 dates, 3 texts, 3 amounts with 2 decimals, 1
 * integer), a frozen header and an autofilter, deflate level 6 for both.
 *
 *   pnpm exec tsx bench/reports/xlsx.ts [rows=1000000]
 *
 * Each writer runs in its own child process, so the RSS is that writer's alone: the parent samples
 * the child's VmRSS from /proc every 100 ms (peak), and the child notes its own RSS as it passes a
 * quarter of the rows and at the end (flat memory means the two are close). Prints a table and the
 * ratios, and each writer's CPU time (all its threads): on a busy machine the wall time says less.
 * The same rows go to both: exceljs takes amounts as numbers and dates as Date objects,
 * ours takes the decimal strings and 'YYYY-MM-DD' texts PostgreSQL returns.
 */
import { spawn } from "node:child_process";
import { createWriteStream, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ExcelJS from "exceljs";
import { type ColumnSpec, createXlsxWriter } from "report-worker/bench";

type Writer = "ours" | "exceljs";
interface ChildResult {
  writer: Writer;
  ms: number;
  bytes: number;
  rssAtQuarterMb: number;
  rssAtEndMb: number;
  /** User + system CPU of the whole process (every thread), start-up excluded. */
  cpuSeconds: number;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => Math.round(bytes / 1048576);
const self = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL("../../", import.meta.url));

// ---- the rows (the same for both writers) ----

const DAY_MS = 86_400_000;
const DAYS = Array.from({ length: 731 }, (_, i) => new Date(Date.UTC(2023, 0, 1) + i * DAY_MS));
const DAY_TEXTS = DAYS.map((d) => d.toISOString().slice(0, 10));
const PARTNERS = Array.from({ length: 997 }, (_, i) => `Partner ${i} Comercial S.A.`);

/** Cents to the decimal text PostgreSQL's numeric gives ("-1234.05"). */
function decimal(cents: number): string {
  const abs = Math.abs(cents);
  const fraction = abs % 100;
  return `${cents < 0 ? "-" : ""}${(abs - fraction) / 100}.${fraction < 10 ? "0" : ""}${fraction}`;
}

interface LedgerRow {
  date: number;
  maturity: number;
  move: string;
  partner: string;
  label: string;
  debit: string;
  credit: string;
  balance: string;
  id: number;
}

function row(i: number): LedgerRow {
  const amount = ((i * 7919) % 5_000_000) - 1_000_000;
  return {
    date: Math.floor(i / 1400) % DAYS.length,
    maturity: (Math.floor(i / 1400) + 30) % DAYS.length,
    move: `MISC/2024/${String(i >> 2).padStart(6, "0")}`,
    partner: PARTNERS[i % PARTNERS.length]!,
    label: `Invoice INV/2024/${String((i * 13) % 100_000).padStart(5, "0")} line ${i % 7}`,
    debit: decimal(Math.max(amount, 0)),
    credit: decimal(Math.max(-amount, 0)),
    balance: decimal(amount * 3 - 17),
    id: i + 1,
  };
}

const COLUMNS: ColumnSpec[] = [
  { header: "Date", type: "date", width: 11 },
  { header: "Due date", type: "date", width: 11 },
  { header: "Entry", type: "text", width: 18 },
  { header: "Partner", type: "text", width: 28 },
  { header: "Label", type: "text", width: 40 },
  { header: "Debit", type: "money", width: 14 },
  { header: "Credit", type: "money", width: 14 },
  { header: "Balance", type: "money", width: 14 },
  { header: "Line id", type: "integer", width: 10 },
];

// ---- one writer, in a child process ----

async function runOurs(rows: number, path: string, atQuarter: () => void): Promise<void> {
  const wb = createXlsxWriter(createWriteStream(path), {
    title: "General ledger",
    creator: "bench",
    created: new Date(),
  });
  const sheet = wb.addSheet({
    name: "General ledger",
    columns: COLUMNS,
    freezeHeader: true,
    autoFilter: true,
  });
  for (let i = 0; i < rows; i++) {
    const r = row(i);
    await sheet.addRow([
      DAY_TEXTS[r.date],
      DAY_TEXTS[r.maturity],
      r.move,
      r.partner,
      r.label,
      r.debit,
      r.credit,
      r.balance,
      r.id,
    ]);
    if (i + 1 === rows >> 2) atQuarter();
  }
  await sheet.end();
  await wb.finish();
}

async function runExceljs(rows: number, path: string, atQuarter: () => void): Promise<void> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: path,
    useStyles: true,
    useSharedStrings: false,
    zip: { zlib: { level: 6 } },
  });
  const ws = wb.addWorksheet("General ledger", { views: [{ state: "frozen", ySplit: 1 }] });
  const numFmt = (c: ColumnSpec) =>
    c.type === "date"
      ? "yyyy-mm-dd"
      : c.type === "money"
        ? "#,##0.00;-#,##0.00"
        : c.type === "integer"
          ? "0"
          : "@";
  ws.columns = COLUMNS.map((c) => ({ header: c.header, width: c.width, style: { numFmt: numFmt(c) } }));
  ws.autoFilter = `A1:I${rows + 1}`;
  for (let i = 0; i < rows; i++) {
    const r = row(i);
    ws.addRow([
      DAYS[r.date],
      DAYS[r.maturity],
      r.move,
      r.partner,
      r.label,
      Number(r.debit),
      Number(r.credit),
      Number(r.balance),
      r.id,
    ]).commit();
    if (i + 1 === rows >> 2) atQuarter();
  }
  ws.commit();
  await wb.commit();
}

async function child(writer: Writer, rows: number, path: string): Promise<void> {
  let rssAtQuarter = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await (writer === "ours" ? runOurs : runExceljs)(rows, path, () => {
    rssAtQuarter = process.memoryUsage.rss();
  });
  const result: ChildResult = {
    writer,
    ms: performance.now() - started,
    bytes: statSync(path).size,
    rssAtQuarterMb: mb(rssAtQuarter),
    rssAtEndMb: mb(process.memoryUsage.rss()),
    cpuSeconds: ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpu)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---- the parent: one child per writer, RSS sampled from /proc ----

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function measure(writer: Writer, rows: number): Promise<ChildResult & { peakRssMb: number }> {
  const path = join(tmpdir(), `bench-xlsx-${process.pid}-${writer}.xlsx`);
  const proc = spawn(process.execPath, ["--import", "tsx", self, "--child", writer, String(rows), path], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let peak = 0;
  const sampler = setInterval(() => {
    if (proc.pid !== undefined) peak = Math.max(peak, rssOf(proc.pid));
  }, 100);
  let out = "";
  proc.stdout.on("data", (chunk) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    proc.on("exit", (code) => {
      clearInterval(sampler);
      rmSync(path, { force: true });
      if (code !== 0) return reject(new Error(`${writer} exited ${code}: ${out}`));
      const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as ChildResult;
      resolve({ ...result, peakRssMb: mb(peak) });
    });
  });
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isInteger(rows) || rows < 4) {
    throw new Error(`rows must be an integer ≥ 4, not ${process.argv[2]}`);
  }
  log(
    `xlsx writers: ${rows.toLocaleString("en")} rows × 9 columns, frozen header, autofilter, deflate level 6`,
  );
  const results = [];
  for (const writer of ["ours", "exceljs"] as const) {
    const r = await measure(writer, rows);
    log(`  ${writer}: ${(r.ms / 1000).toFixed(1)} s`);
    results.push(r);
  }
  const [ours, exceljs] = results as [(typeof results)[0], (typeof results)[0]];
  const rate = (r: ChildResult) => Math.round(rows / (r.ms / 1000));
  const quarter = (rows >> 2).toLocaleString("en");
  log("");
  log(
    `| writer | rows/s | time | CPU | peak RSS (100 ms samples) | RSS at ${quarter} rows | RSS at ${rows.toLocaleString("en")} rows | file |`,
  );
  log("| --- | --: | --: | --: | --: | --: | --: | --: |");
  for (const [name, r] of [
    ["report-worker xlsx", ours],
    ["exceljs 4 stream WorkbookWriter", exceljs],
  ] as const) {
    log(
      `| ${name} | ${rate(r).toLocaleString("en")} | ${(r.ms / 1000).toFixed(1)} s | ${r.cpuSeconds.toFixed(1)} s | ${r.peakRssMb} MB | ${r.rssAtQuarterMb} MB | ${r.rssAtEndMb} MB | ${(r.bytes / 1048576).toFixed(1)} MB |`,
    );
  }
  log("");
  log(
    `ratio: ${(rate(ours) / rate(exceljs)).toFixed(2)}× the rows/s, ${(exceljs.cpuSeconds / ours.cpuSeconds).toFixed(1)}× less CPU, ${(exceljs.peakRssMb / ours.peakRssMb).toFixed(1)}× less peak RSS`,
  );
}

if (process.argv[2] === "--child") {
  await child(process.argv[3] as Writer, Number(process.argv[4]), process.argv[5]!);
} else {
  await main();
}
