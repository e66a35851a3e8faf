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
): Promise<CheckReport> {
  const version = await client.version();
  const protocol = await client.protocol();
  const uid = await client.authenticate();
  const results: ModelCheck[] = [];
  for (const [model, expected] of Object.entries(models))
    results.push(await checkModel(client, model, expected));
  return { version, protocol, uid, models: results, ok: results.every((m) => m.readable) };
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
