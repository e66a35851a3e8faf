/**
 * What `pnpm odoo:check` verifies: the server answers, the credentials work, and each finance model
 * is readable with the fields the ETL expects. `runOdooCheck` returns a report; `formatCheckReport`
 * renders it for a terminal.
 */
import type { OdooClient } from "./client.js";
import type { OdooProtocol } from "./errors.js";
import { OdooAccessError, OdooAuthError, OdooError, OdooTransportError, OdooUserError } from "./errors.js";
import { type ExpectedField, FINANCE_MODELS, resolveFields } from "./models.js";
import type { OdooVersion } from "./transports.js";

export interface ModelCheck {
  model: string;
  readable: boolean;
  /** Records, archived ones included (`active_test: false`). */
  count: number | undefined;
  /** Expected fields the server has under none of their names (`a|b` for alternatives). */
  missingFields: string[];
  /** Why the model is not readable. */
  problem: string | undefined;
}

export interface CheckReport {
  version: OdooVersion;
  protocol: OdooProtocol;
  uid: number;
  models: ModelCheck[];
  /** Every model readable. */
  ok: boolean;
  /** How fast the server reads pages, alone and several at once (when measured). */
  speed?: ServerSpeed;
}

/** Pages read at once, and what each cost. */
export interface SpeedLevel {
  concurrency: number;
  /** Wall time of that many pages sent at once, ms. */
  wallMs: number;
  /** Wall time per page, ms. */
  perPageMs: number;
  /** Pages per unit of time against one at a time (ideal: the concurrency). */
  speedup: number;
}

export interface ServerSpeed {
  model: string;
  pageSize: number;
  /** Time of one page alone, ms (median of three). */
  pageMs: number;
  levels: SpeedLevel[];
  /** The most pages at once the server still reads about as fast as one each (≥ 75 % of the ideal speed-up). */
  suggested: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/**
 * Reads pages of `model` (the journal items: the pages a sync spends its time on) one at a time,
 * then 2, 4 and 8 at once, and suggests ODOO_MAX_CONCURRENCY: the most pages at once the server
 * serves in parallel (a server with W workers answers W pages at once as fast as one; more wait
 * in line and only take longer each). Pages come from different offsets, so none is a cached
 * answer. The client must allow `max(levels)` requests at once.
 */
export async function measureServer(
  client: OdooClient,
  options: {
    model?: string;
    fields: readonly string[];
    count: number;
    pageSize?: number;
    levels?: readonly number[];
  },
): Promise<ServerSpeed> {
  const model = options.model ?? "account.move.line";
  const pageSize = options.pageSize ?? 1000;
  const levels = options.levels ?? [2, 4, 8];
  const pages = Math.max(1, Math.floor(options.count / pageSize));
  let next = 0;
  const page = async (): Promise<number> => {
    const offset = (next++ % pages) * pageSize;
    const started = performance.now();
    await client.searchRead(model, [], {
      fields: options.fields,
      offset,
      limit: pageSize,
      order: "id asc",
      context: ALL,
    });
    return performance.now() - started;
  };
  const alone: number[] = [];
  for (let i = 0; i < 3; i++) alone.push(await page());
  const pageMs = median(alone);
  const measured: SpeedLevel[] = [];
  let suggested = 1;
  for (const concurrency of levels) {
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, page));
    const wallMs = performance.now() - started;
    const speedup = (concurrency * pageMs) / wallMs;
    measured.push({ concurrency, wallMs, perPageMs: wallMs / concurrency, speedup });
    if (speedup < 0.75 * concurrency) break; // they wait in line: more only take longer each
    suggested = concurrency;
  }
  return { model, pageSize, pageMs, levels: measured, suggested };
}

const ALL = { active_test: false };

export async function checkModel(
  client: OdooClient,
  model: string,
  expected: readonly ExpectedField[],
): Promise<ModelCheck> {
  try {
    const meta = await client.fieldsGet(model, { attributes: ["type", "string", "store", "relation"] });
    const resolved = resolveFields(meta, expected);
    const count = await client.searchCount(model, [], { context: ALL });
    // reading one record with the fields the ETL will ask for proves field-level access too
    await client.searchRead(model, [], { fields: resolved.fields, limit: 1, context: ALL });
    return { model, readable: true, count, missingFields: resolved.missing, problem: undefined };
  } catch (error) {
    // no answer or no login: nothing else can be checked, the caller reports it
    if (
      !(error instanceof OdooError) ||
      error instanceof OdooAuthError ||
      error instanceof OdooTransportError
    ) {
      throw error;
    }
    const problem =
      error instanceof OdooAccessError
        ? `no read access (${error.message})`
        : error instanceof OdooUserError &&
            /doesn't exist|does not exist|unknown model|not found/i.test(error.message)
          ? `model not installed (${error.message})`
          : error.message;
    return { model, readable: false, count: undefined, missingFields: [], problem };
  }
}

export async function runOdooCheck(
  client: OdooClient,
  models: Record<string, readonly ExpectedField[]> = FINANCE_MODELS,
  options: { measure?: boolean; pageSize?: number } = {},
): Promise<CheckReport> {
  const version = await client.version();
  const protocol = await client.protocol();
  const uid = await client.authenticate();
  const results: ModelCheck[] = [];
  for (const [model, expected] of Object.entries(models))
    results.push(await checkModel(client, model, expected));
  const report: CheckReport = {
    version,
    protocol,
    uid,
    models: results,
    ok: results.every((m) => m.readable),
  };
  const lines = results.find((m) => m.model === "account.move.line");
  const expected = models["account.move.line"];
  if (options.measure && lines?.readable && lines.count && expected) {
    const meta = await client.fieldsGet("account.move.line", { attributes: ["type", "store"] });
    const { fields } = resolveFields(meta, expected);
    report.speed = await measureServer(client, {
      fields,
      count: lines.count,
      ...(options.pageSize ? { pageSize: options.pageSize } : {}),
    });
  }
  return report;
}

/** The speed lines of a report: time per page alone and at once, and the suggested concurrency. */
export function formatSpeed(speed: ServerSpeed): string[] {
  const ms = (x: number) => `${Math.round(x)} ms`;
  const levels = speed.levels
    .map((l) => `${l.concurrency} at once in ${ms(l.wallMs)} (${l.speedup.toFixed(1)}× the pages per second)`)
    .join(", ");
  return [
    `speed:    a page of ${speed.pageSize} ${speed.model}: ${ms(speed.pageMs)} alone; ${levels}`,
    `suggested ODOO_MAX_CONCURRENCY=${speed.suggested} (the server reads ${speed.suggested} page${speed.suggested > 1 ? "s" : ""} at once about as fast as one; more would wait in line)`,
  ];
}

export function formatCheckReport(
  report: CheckReport,
  target: { url: string; db: string; username: string },
): string {
  const lines: string[] = [];
  const info = report.version.serverVersionInfo.length
    ? ` ${JSON.stringify(report.version.serverVersionInfo)}`
    : "";
  lines.push(`server:   ${target.url}`);
  lines.push(`version:  Odoo ${report.version.serverVersion || "(unknown)"}${info}`);
  lines.push(`protocol: ${report.protocol}`);
  lines.push(`uid:      ${report.uid} (login "${target.username}" on database "${target.db}")`);
  lines.push("");
  const width = Math.max(...report.models.map((m) => m.model.length), 5);
  lines.push(`${"model".padEnd(width)}  readable  ${"records".padStart(9)}  missing fields`);
  for (const m of report.models) {
    const missing = m.readable
      ? m.missingFields.length
        ? m.missingFields.join(", ")
        : "-"
      : (m.problem ?? "");
    lines.push(
      `${m.model.padEnd(width)}  ${(m.readable ? "yes" : "NO").padEnd(8)}  ${(m.count === undefined ? "-" : String(m.count)).padStart(9)}  ${missing}`,
    );
  }
  lines.push("");
  if (report.speed) lines.push(...formatSpeed(report.speed), "");
  const unreadable = report.models.filter((m) => !m.readable);
  if (unreadable.length) {
    lines.push(
      `FAILED: ${unreadable.length} model(s) not readable by "${target.username}": ${unreadable.map((m) => m.model).join(", ")}. ` +
        "Grant the user accounting read access (e.g. the Accounting / Auditor group) or install the Invoicing/Accounting app.",
    );
  } else {
    const gaps = report.models.filter((m) => m.missingFields.length).length;
    lines.push(
      `OK: all ${report.models.length} finance models are readable${gaps ? ` (${gaps} lack some expected fields; see above)` : ""}.`,
    );
  }
  return lines.join("\n");
}
