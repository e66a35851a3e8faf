/** The Odoo connection variables, parsed with @finanzas/config; shared by odoo:check and the ETL worker. */
import { env, type Static, Type } from "@finanzas/config";
import type { OdooClientOptions } from "./client.js";

export const ODOO_PROTOCOLS = ["auto", "xmlrpc", "jsonrpc", "json2"] as const;

export const odooEnv = {
  ODOO_URL: env.url(["http", "https"], {
    description: "the Odoo base URL, e.g. https://erp.example.com or http://127.0.0.1:8069/odoo/",
  }),
  ODOO_DB: env.string({ description: "the Odoo database name" }),
  ODOO_USERNAME: env.string({ description: "the Odoo login" }),
  ODOO_PASSWORD: env.secret({ description: "the password or API key of ODOO_USERNAME" }),
  ODOO_PROTOCOL: env.oneOf(ODOO_PROTOCOLS, { default: "auto" }),
  ODOO_TIMEOUT_MS: env.int({ minimum: 1000, maximum: 3_600_000, default: 120_000 }),
  /**
   * One deadline per Odoo call, its retries and the waits between them included; never shorter than
   * ODOO_TIMEOUT_MS (one attempt is bounded by that already).
   */
  ODOO_CALL_DEADLINE_MS: env.int({ minimum: 1000, maximum: 3_600_000, default: 120_000 }),
  /** The largest answer accepted from Odoo, in bytes (default 64 MiB); a larger one fails the call. */
  ODOO_MAX_RESPONSE_BYTES: env.int({ minimum: 65_536, maximum: 2_147_483_647, default: 67_108_864 }),
  /** Requests in flight at once against this Odoo, at most (1–4 per database is polite). */
  ODOO_MAX_CONCURRENCY: env.int({ minimum: 1, maximum: 64, default: 4 }),
};

export const odooEnvSchema = Type.Object(odooEnv);
export type OdooEnv = Static<typeof odooEnvSchema>;

export const clientOptionsFromEnv = (e: OdooEnv): OdooClientOptions => ({
  url: e.ODOO_URL,
  db: e.ODOO_DB,
  username: e.ODOO_USERNAME,
  password: e.ODOO_PASSWORD,
  protocol: e.ODOO_PROTOCOL,
  timeoutMs: e.ODOO_TIMEOUT_MS,
  deadlineMs: Math.max(e.ODOO_CALL_DEADLINE_MS, e.ODOO_TIMEOUT_MS),
  maxResponseBytes: e.ODOO_MAX_RESPONSE_BYTES,
  maxConcurrency: e.ODOO_MAX_CONCURRENCY,
});
