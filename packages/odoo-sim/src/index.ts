import { Control } from "./control.js";
import type { Env } from "./env.js";
import { type GenerationReport, generate } from "./generate.js";
import { ODOO_VERSIONS, type OdooVersion } from "./models.js";
import type { Performance } from "./performance.js";
import type { PyValue } from "./py.js";
import { OdooService } from "./rpc.js";
import { createSimServer, listen } from "./server.js";
import { Store } from "./store.js";
import { formatDatetimeMicro } from "./time.js";

export type {
  ActiveFault,
  CreateMoveSpec,
  FaultKind,
  FaultSpec,
  PayOptions,
  RequestFaults,
  Stats,
  TxResult,
  WriteOptions,
} from "./control.js";
export { Control, FAULT_KINDS } from "./control.js";
export type { Env } from "./env.js";
export { type GenerationReport, generate, prng } from "./generate.js";
export type { FieldDef, FieldType, ModelDef, OdooVersion } from "./models.js";
export { type Concurrency, DEFAULT_PERFORMANCE, type Performance } from "./performance.js";
export { floatRepr, OdooException, PyFloat, type PyValue } from "./py.js";
export { Store } from "./store.js";
export { dumpFault, dumpResponse, parseMethodCall } from "./xmlrpc.js";

export interface OdooSimOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  database?: string;
  username?: string;
  password?: string;
  /** Accepted wherever Odoo accepts an API key (XML-RPC/JSON-RPC password, JSON-2 bearer). Default: password. */
  apiKey?: string;
  seed?: number;
  /**
   * Data volume, linear: 1 ≈ 10 000 journal items (≈ 2 300 moves, 330 partners); 100 ≈ 1 000 000.
   * Default 0.1 (≈ 1 000 journal items), a small demo data set.
   */
  scale?: number;
  version?: OdooVersion;
  /** Serve under a path prefix, e.g. "/odoo" (default none). */
  basePath?: string;
  /** Odoo's login cooldown: after `after` failed logins, refuse logins for `seconds` (default 10 / 60; 0 disables). */
  loginCooldown?: { after: number; seconds: number };
  /**
   * Models this server does not have, as a reduced Odoo-compatible server may lack models real Odoo
   * always has (e.g. `account.partial.reconcile`): calls on them get Odoo's unknown-model error.
   */
  without?: string[];
  /**
   * What answers cost, as on a real server: a fixed latency and one per record read, a number of
   * workers (requests beyond them wait in line), a queue limit beyond which requests are refused.
   * Default: answers at once, no limit. `sim.control.setPerformance` changes it at any time.
   */
  performance?: Partial<Performance>;
}

/** Read access to the generated data for tests (Odoo-shaped values, ignoring access rules). */
export interface SimStore {
  readonly raw: Store;
  /** Ids of a model, archived included, ascending. */
  ids(model: string): number[];
  count(model: string): number;
  /**
   * Like Odoo's read (load '' → many2one as bare ids), all companies, archived included;
   * company-dependent fields in the user's main company unless `context.allowed_company_ids` names one.
   */
  read(
    model: string,
    ids: number[],
    fields?: string[],
    context?: Record<string, unknown>,
  ): Record<string, PyValue>[];
  /** Search as the admin would with the given context. Returns ids. */
  search(
    model: string,
    domain: unknown[],
    opts?: { order?: string; limit?: number; context?: Record<string, unknown> },
  ): number[];
  /** write_date with microseconds ('YYYY-MM-DD HH:MM:SS.ffffff'), as stored. */
  writeDate(model: string, id: number): string | null;
}

export interface OdooSim {
  url: string;
  port: number;
  version: OdooVersion;
  database: string;
  username: string;
  password: string;
  apiKey: string;
  store: SimStore;
  control: Control;
  generation: GenerationReport;
  close(): Promise<void>;
}

export function buildStore(
  version: OdooVersion,
  seed: number,
  scale: number,
): { store: Store; generation: GenerationReport } {
  const store = new Store(version);
  const generation = generate(store, { seed, scale });
  return { store, generation };
}

export async function startOdooSim(options: OdooSimOptions = {}): Promise<OdooSim> {
  const version = options.version ?? 17;
  if (!ODOO_VERSIONS.includes(version))
    throw new Error(`unsupported Odoo version ${version}: use 16, 17, 18 or 19`);
  const host = options.host ?? "127.0.0.1";
  const database = options.database ?? "odoo";
  const username = options.username ?? "admin";
  const password = options.password ?? "admin";
  const apiKey = options.apiKey ?? password;
  const scale = options.scale ?? 0.1;
  if (!(scale > 0)) throw new Error(`scale must be > 0, got ${scale}`);
  const basePath = (options.basePath ?? "").replace(/\/+$/, "");
  const { store, generation } = buildStore(version, options.seed ?? 1, scale);
  // build the (write_date, id) index up front so the first incremental page is fast
  store.table("account.move.line").writeDateIndex();
  store.table("account.move").writeDateIndex();
  for (const model of options.without ?? []) {
    if (!store.tables.delete(model)) throw new Error(`without: the simulator has no model ${model}`);
  }
  const service = new OdooService(
    store,
    { database, username, password, apiKey },
    options.loginCooldown ?? { after: 10, seconds: 60 },
  );
  const control = new Control(store, service);
  if (options.performance) control.setPerformance(options.performance);
  const server = createSimServer({ service, control, basePath });
  server.keepAliveTimeout = 65_000;
  const port = await listen(server, options.port ?? 0, host);
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const adminEnv = (context: Record<string, unknown> = {}): Env => store.makeEnv(context);
  const simStore: SimStore = {
    raw: store,
    ids(model) {
      const t = store.table(model);
      return Array.from(t.liveRows(), (r) => t.ids[r]!);
    },
    count: (model) => store.table(model).live,
    read(model, ids, fields, context = {}) {
      const env = adminEnv({ ...context, active_test: false });
      const t = store.table(model);
      const defs = store.checkFields(t, fields ?? null);
      const rows = ids.map((id) => t.rowOf(id)).filter((r) => r >= 0);
      return store.readRows(t, rows, defs, env, "") as Record<string, PyValue>[];
    },
    search(model, domain, opts = {}) {
      const env = adminEnv(opts.context);
      const t = store.table(model);
      return store
        .search(model, domain, { order: opts.order ?? null, limit: opts.limit ?? null }, env)
        .map((r) => t.ids[r]!);
    },
    writeDate(model, id) {
      const t = store.table(model);
      const r = t.rowOf(id);
      return r < 0 ? null : formatDatetimeMicro(t.f64("write_date")[r]!);
    },
  };
  return {
    url: `http://${urlHost}:${port}${basePath}`,
    port,
    version,
    database,
    username,
    password,
    apiKey,
    store: simStore,
    control,
    generation,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
