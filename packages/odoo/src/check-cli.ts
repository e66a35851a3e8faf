#!/usr/bin/env node
/**
 * `pnpm odoo:check`: connects with ODOO_URL, ODOO_DB, ODOO_USERNAME, ODOO_PASSWORD, ODOO_PROTOCOL
 * (default auto), ODOO_TIMEOUT_MS, ODOO_CALL_DEADLINE_MS and ODOO_MAX_RESPONSE_BYTES; prints the server version, the protocol, the uid and, per
 * finance model, whether it is readable, its record count (archived included) and the expected
 * fields the server lacks; then how long the server takes to read a page of 1 000 journal items,
 * alone and 2, 4, 8 at once, and the ODOO_MAX_CONCURRENCY that suits it. Exit status: 0 all
 * readable, 1 configuration / connection / login failure, 2 some model not readable.
 */
import { loadConfig } from "@finanzas/config";
import { formatCheckReport, runOdooCheck } from "./check.js";
import { createOdooClient } from "./client.js";
import { clientOptionsFromEnv, odooEnvSchema } from "./env.js";
import { OdooAuthError, OdooError, OdooTransportError, redactText } from "./errors.js";
import { redactUrlText } from "./http.js";

const config = loadConfig("odoo:check", odooEnvSchema, process.env);
const options = clientOptionsFromEnv(config);
// The URL as printed: a password in it replaced by ***.
const target = { url: redactUrlText(config.ODOO_URL), db: config.ODOO_DB, username: config.ODOO_USERNAME };

let client: ReturnType<typeof createOdooClient> | undefined;
try {
  // Checks go one at a time; the speed measurement sends up to 8 pages at once, briefly.
  client = createOdooClient({ ...options, maxConcurrency: 8, retry: { attempts: 3, baseDelayMs: 300 } });
  const report = await runOdooCheck(client, undefined, { measure: true });
  process.stdout.write(`${formatCheckReport(report, target)}\n`);
  process.exitCode = report.ok ? 0 : 2;
} catch (error) {
  const what =
    error instanceof OdooAuthError
      ? `cannot log in to ${target.url} as "${target.username}" on database "${target.db}"`
      : error instanceof OdooTransportError
        ? `cannot reach Odoo at ${target.url} (check ODOO_URL)`
        : error instanceof OdooError
          ? `Odoo at ${target.url} refused the check`
          : "unexpected failure";
  const message = redactText(error instanceof Error ? error.message : String(error), [config.ODOO_PASSWORD]);
  process.stderr.write(`odoo:check: ${what}:\n  ${message}\n`);
  if (!(error instanceof OdooError) && error instanceof Error && error.stack)
    process.stderr.write(`${redactText(error.stack, [config.ODOO_PASSWORD])}\n`);
  process.exitCode = 1;
} finally {
  await client?.close();
}
