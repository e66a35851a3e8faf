/**
 * The etl-worker's own way of syncing, for other packages' tests that need data synced from the
 * Odoo simulator (the web-api's, the report-worker's, the mailer's): exported as `etl-worker/testing`,
 * so a test declares `etl-worker` as a dev dependency (turbo then sees that an ETL change touches
 * it) instead of reaching into this app's files. Not used by the service itself.
 */
import { randomUUID } from "node:crypto";
import type { RunResult } from "@finanzas/contracts";
import type { Db } from "@finanzas/db";
import { ensureModelTables, type FieldSpec, REGISTRY, tableOf } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import type { OdooClient } from "@finanzas/odoo";
// A dev dependency: this module serves tests only, and the service never loads it.
import { type OdooSim, PyFloat } from "@finanzas/odoo-sim";
import type { Consumer, QueueConnection } from "@finanzas/queue";
import type { Redis } from "ioredis";
import { createEngine, DEFAULT_SETTINGS, type EtlSettings } from "./engine/index.js";
import { sync } from "./jobs/sync.js";
import { fieldsGet, resolveModel } from "./odoo/source.js";
import { createEtlWorker } from "./worker.js";

/** Settings for tests: small pages, short leases (retries are the Odoo client's). */
export const TEST_SETTINGS: EtlSettings = {
  ...DEFAULT_SETTINGS,
  pageSize: 500,
  lockTtlSeconds: 10,
};

/**
 * One sync of every model (or `models`) from `odoo` into `store`, in this process, without a
 * queue: creates the odoo tables first. Throws when the run fails.
 */
export async function syncOnce(options: {
  store: Db;
  odoo: OdooClient;
  logger: Logger;
  mode?: "full" | "incremental";
  models?: readonly string[];
  settings?: Partial<EtlSettings>;
}): Promise<RunResult> {
  await ensureModelTables(options.store.db);
  const engine = createEngine({
    db: options.store.db,
    pool: options.store.pool,
    odoo: options.odoo,
    queuePrefix: "test",
    logger: options.logger,
    settings: { ...TEST_SETTINGS, ...options.settings },
  });
  const result = await sync(
    engine,
    {
      jobId: randomUUID(),
      attempt: 1,
      signal: new AbortController().signal,
      logger: options.logger,
      progress: async () => {},
    },
    options.models,
    options.mode ?? "full",
  );
  if (result.status !== "succeeded") {
    throw new Error(`sync failed: ${JSON.stringify(result.models.filter((m) => m.status === "failed"))}`);
  }
  return result;
}

/** An etl-worker consumer on a test's queue prefix (the odoo tables created first), as the service runs it. */
export async function startTestEtlWorker(options: {
  connection: QueueConnection;
  store: Db;
  odoo: OdooClient;
  publisher: Redis;
  logger: Logger;
  settings?: Partial<EtlSettings>;
}): Promise<Consumer> {
  await ensureModelTables(options.store.db);
  return createEtlWorker({
    connection: options.connection,
    logger: options.logger,
    concurrency: 1,
    db: options.store.db,
    odoo: options.odoo,
    publisher: options.publisher,
    settings: { ...TEST_SETTINGS, ...options.settings },
  });
}

const plain = (value: unknown): unknown => {
  if (value instanceof PyFloat) return value.value;
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]));
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
};

/** What a local column should hold for an Odoo value, checked independently of the worker's mapping. */
function matches(field: FieldSpec, source: unknown, local: unknown, decimals: number | undefined): boolean {
  let value = plain(source);
  // Control characters below 32 except tab, LF and CR are stripped: by Odoo's XML-RPC marshaller,
  // and by the ETL for every protocol (a text reads the same whichever carried it).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  if (typeof value === "string") value = value.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "");
  if (field.kind === "boolean") return local === value;
  if (field.kind === "many2many") return JSON.stringify(local ?? []) === JSON.stringify(value || []);
  if (value === false || value === null) return local === null;
  switch (field.kind) {
    case "float":
      return typeof local === "string" && Number(local) === value;
    case "monetary":
      return (
        typeof local === "string" &&
        (decimals === undefined
          ? Number(local) === value
          : Math.abs(Number(local) - (value as number)) <= 0.5 * 10 ** -decimals + 1e-9 &&
            (local.split(".")[1] ?? "").length <= decimals)
      );
    case "datetime":
      return local instanceof Date && local.getTime() === Date.parse(`${String(value).replace(" ", "T")}Z`);
    case "many2one":
      return local === (Array.isArray(value) ? value[0] : value);
    case "json":
      return JSON.stringify(sortKeys(local)) === JSON.stringify(sortKeys(value));
    default:
      return local === value;
  }
}

const sortKeys = (v: unknown): unknown =>
  v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(
        Object.entries(v)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, sortKeys(x)]),
      )
    : v;

/** The simulator the data came from, a client of it, and the database it was synced into. */
export interface SourceAndCopy {
  sim: OdooSim;
  odoo: OdooClient;
  store: Pick<Db, "pool">;
}

/**
 * The check after any sync, in this app's tests and in the fault suite: "the synced copy equals
 * the source". Compares every live local row of every registered model with the simulator's store
 * (archived records included): same ids, every synced field equal, so a record lost or left over
 * shows as well as a wrong value. Returns the differences (empty = equal).
 */
export async function diffWithSource(
  h: SourceAndCopy,
  models = REGISTRY.map((m) => m.model),
): Promise<string[]> {
  const diffs: string[] = [];
  const source = { client: h.odoo };
  const currencies = h.sim.store.read("res.currency", h.sim.store.ids("res.currency"), ["decimal_places"]);
  const decimalsOf = new Map(currencies.map((c) => [c.id as number, c.decimal_places as number]));
  for (const model of models) {
    const spec = REGISTRY.find((m) => m.model === model);
    if (!spec) throw new Error(model);
    const resolved = resolveModel(spec, await fieldsGet(source, model));
    const fields = resolved.columns.map((c) => c.name);
    const ids = h.sim.store.ids(model);
    const records = new Map(h.sim.store.read(model, ids, fields).map((r) => [r.id as number, r]));
    // Company-dependent fields (account.account code on 18+): each record's value in its own company.
    if (resolved.perCompany) {
      const { fields: dependent, companyField } = resolved.perCompany;
      for (const record of records.values()) {
        const value = record[companyField];
        const company = Array.isArray(value) ? value[0] : value;
        if (typeof company !== "number") continue;
        const [own] = h.sim.store.read(model, [record.id as number], dependent, {
          allowed_company_ids: [company],
        });
        for (const f of dependent) record[f] = own![f]!;
      }
    }
    const { rows } = await h.store.pool.query(
      `select * from odoo.${tableOf(model)} where _deleted_at is null`,
    );
    const local = new Map(rows.map((r: Record<string, unknown>) => [r.id as number, r]));
    for (const id of ids) if (!local.has(id)) diffs.push(`${model} ${id}: missing locally`);
    for (const id of local.keys())
      if (!records.has(id)) diffs.push(`${model} ${id}: deleted in Odoo, live locally`);
    for (const [id, record] of records) {
      const row = local.get(id);
      if (!row) continue;
      for (const field of resolved.columns) {
        const currencyId = field.currency ? plain(record[field.currency]) : undefined;
        const decimals = typeof currencyId === "number" ? decimalsOf.get(currencyId) : undefined;
        if (!matches(field, record[field.name], row[field.name], decimals)) {
          diffs.push(
            `${model} ${id} ${field.name}: Odoo ${JSON.stringify(plain(record[field.name]))}, local ${JSON.stringify(row[field.name])}`,
          );
        }
      }
    }
    if (diffs.length > 50) break;
  }
  return diffs;
}
