import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createDb, type Db } from "@finanzas/db";
import { columnsOf, ensureModelTables, type FieldSpec, REGISTRY, tableOf } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import type { OdooClient } from "@finanzas/odoo";
import { type OdooSim, type OdooSimOptions, PyFloat } from "@finanzas/odoo-sim";
import { createTestDatabase, startTestOdoo, type TestDatabase, testLogger } from "@finanzas/testing";
import {
  createEngine,
  DEFAULT_SETTINGS,
  type Engine,
  type EngineDeps,
  type EtlSettings,
  type JobRun,
} from "../src/engine/index.js";
import { fieldsGet, resolveModel } from "../src/odoo/source.js";

export const quietLogger: Logger = testLogger("etl-worker");

export interface Harness {
  sim: OdooSim;
  database: TestDatabase;
  store: Db;
  odoo: OdooClient;
  engine: Engine;
  /** Another engine on the same database and Odoo (another replica), with its own deps; publishes nothing. */
  engineWith(overrides: Partial<EngineDeps>): Engine;
  settings: EtlSettings;
  published: string[];
  close(): Promise<void>;
}

/** A simulator over HTTP, a fresh migrated database with the odoo tables, and an engine between them. */
export async function harness(
  label: string,
  sim: OdooSimOptions = {},
  settings: Partial<EtlSettings> = {},
): Promise<Harness> {
  // The client retries as the service's does (ETL_ODOO_RETRIES attempts), with short waits.
  const [testOdoo, database] = await Promise.all([
    startTestOdoo(sim, { retry: { attempts: 6, baseDelayMs: 20, maxDelayMs: 200 } }),
    createTestDatabase(label),
  ]);
  const { sim: odooSim, odoo } = testOdoo;
  const store = createDb({ url: database.url, max: 8 });
  await ensureModelTables(store.db);
  const all: EtlSettings = {
    ...DEFAULT_SETTINGS,
    pageSize: 200,
    lockTtlSeconds: 10,
    ...settings,
  };
  const published: string[] = [];
  const base: EngineDeps = {
    db: store.db,
    pool: store.pool,
    odoo,
    queuePrefix: "test",
    logger: quietLogger,
    settings: all,
  };
  const engine = createEngine({
    ...base,
    publisher: { publish: async (_channel: string, message: string) => published.push(message) },
  });
  return {
    sim: odooSim,
    database,
    store,
    odoo,
    engine,
    engineWith: (overrides) => createEngine({ ...base, ...overrides }),
    settings: all,
    published,
    async close() {
      await testOdoo.close();
      await store.close();
      await database.drop();
    },
  };
}

export const job = (overrides: Partial<JobRun> = {}): JobRun => ({
  jobId: randomUUID(),
  attempt: 1,
  signal: new AbortController().signal,
  logger: quietLogger,
  progress: async () => {},
  ...overrides,
});

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

/**
 * Compares every live local row of every registered model with the simulator's store (archived
 * records included): same ids, every synced field equal. Returns the differences (empty = equal).
 */
export async function diffWithSource(
  h: Pick<Harness, "sim" | "odoo" | "store">,
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

export const everyColumn = (model: string) => columnsOf(REGISTRY.find((m) => m.model === model)!);

/** Local rows per model (live, and marked deleted). */
export async function localCounts(
  h: Pick<Harness, "store">,
): Promise<Record<string, { live: number; deleted: number }>> {
  const out: Record<string, { live: number; deleted: number }> = {};
  for (const spec of REGISTRY) {
    const { rows } = await h.store.pool.query(
      `select count(*) filter (where _deleted_at is null)::int as live, count(*) filter (where _deleted_at is not null)::int as deleted from odoo.${tableOf(spec.model)}`,
    );
    out[spec.model] = rows[0];
  }
  return out;
}

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

/** Runs the built CLI; resolves with its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c) => {
      output += c;
    });
    child.stderr.on("data", (c) => {
      output += c;
    });
    child.on("exit", (code) => resolve({ code, output }));
  });
}
