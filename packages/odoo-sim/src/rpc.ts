import type { OdooVersion } from "./models.js";
import { err, frames, OdooException, type PyValue } from "./py.js";
import type { Store } from "./store.js";

export interface Credentials {
  database: string;
  username: string;
  password: string;
  apiKey: string;
}

interface Signature {
  params: string[];
  required: number;
  /** record methods take ids as their first positional argument. */
  records?: boolean;
  extraKw?: string[];
}

function signatures(version: OdooVersion): Record<string, Signature> {
  return {
    search: {
      params:
        version === 16
          ? ["domain", "offset", "limit", "order", "count"]
          : ["domain", "offset", "limit", "order"],
      required: 1,
    },
    search_read: { params: ["domain", "fields", "offset", "limit", "order"], required: 0, extraKw: ["load"] },
    search_count: { params: ["domain", "limit"], required: 1 },
    read: { params: ["fields", "load"], required: 0, records: true },
    fields_get: { params: ["allfields", "attributes"], required: 0 },
    check_access_rights: { params: ["operation", "raise_exception"], required: 1 },
  };
}

const MODEL_METHODS = new Set([
  "create",
  "write",
  "unlink",
  "copy",
  "name_search",
  "default_get",
  "read_group",
  "web_search_read",
  "web_read",
  "export_data",
  "load",
  "browse",
  "exists",
]);

const py = (v: unknown) => (v === null || v === undefined ? "None" : JSON.stringify(v));

export class OdooService {
  /** Until when (ms, real clock) authenticate refuses every login. */
  lockedUntil = 0;
  private failures = 0;

  constructor(
    readonly store: Store,
    readonly creds: Credentials,
    readonly cooldown: { after: number; seconds: number },
  ) {}

  get version(): OdooVersion {
    return this.store.version;
  }

  versionInfo(): Record<string, PyValue> {
    const v = this.version;
    return {
      server_version: `${v}.0`,
      server_version_info: [v, 0, 0, "final", 0, ""],
      server_serie: `${v}.0`,
      protocol_version: 1,
    };
  }

  checkDb(db: unknown): void {
    if (db !== this.creds.database) {
      throw new OdooException(
        "psycopg2.OperationalError",
        `connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "${String(db)}" does not exist\n`,
        "server",
        frames.db,
      );
    }
  }

  private passwordOk(password: unknown): boolean {
    return (
      typeof password === "string" && (password === this.creds.password || password === this.creds.apiKey)
    );
  }

  authenticate(db: unknown, login: unknown, password: unknown): number | false {
    this.checkDb(db);
    if (Date.now() < this.lockedUntil) return false;
    if (login === this.creds.username && this.passwordOk(password)) {
      this.failures = 0;
      return this.store.uid;
    }
    this.failures++;
    if (this.cooldown.after > 0 && this.failures >= this.cooldown.after) {
      this.lockedUntil = Date.now() + this.cooldown.seconds * 1000;
      this.failures = 0;
    }
    return false;
  }

  resetLogin(): void {
    this.lockedUntil = 0;
    this.failures = 0;
  }

  common(method: string, params: unknown[]): PyValue {
    switch (method) {
      case "version":
        return this.versionInfo();
      case "authenticate":
      case "login":
        return this.authenticate(params[0], params[1], params[2]);
      case "about":
        return "See http://openerp.com";
      default:
        throw new OdooException(
          "builtins.KeyError",
          `'exp_${method}'`,
          "server",
          frames.dispatch.slice(0, 1),
        );
    }
  }

  db(method: string): PyValue {
    switch (method) {
      case "list":
        return [this.creds.database];
      case "server_version":
        return `${this.version}.0`;
      case "db_exist":
        return true;
      default:
        throw new OdooException("builtins.KeyError", `'exp_${method}'`, "server");
    }
  }

  /** `object` service: execute_kw / execute with the password re-checked on every call. */
  object(method: string, params: unknown[]): { model: string; method: string; run: () => PyValue } {
    const [db, uid, password, model, name, ...rest] = params;
    if (method !== "execute_kw" && method !== "execute") {
      throw new OdooException("builtins.NameError", `Method not available ${method}`, "server");
    }
    this.checkDb(db);
    if (uid !== this.store.uid || !this.passwordOk(password)) throw err.denied();
    if (typeof model !== "string" || typeof name !== "string")
      throw err.type("execute_kw() missing required arguments");
    const args = method === "execute_kw" ? ((rest[0] as unknown[] | undefined) ?? []) : rest;
    const kwargs = method === "execute_kw" ? ((rest[1] as Record<string, unknown> | undefined) ?? {}) : {};
    if (!Array.isArray(args)) throw err.type("args must be a list");
    if (typeof kwargs !== "object" || Array.isArray(kwargs)) throw err.type("kwargs must be a dict");
    return { model, method: name, run: () => this.callKw(model, name, args, kwargs) };
  }

  callKw(model: string, method: string, args: unknown[], kwargs: Record<string, unknown>): PyValue {
    if (!this.store.has(model)) throw err.user(`Object ${model} doesn't exist`);
    if (method.startsWith("_"))
      throw err.access(`Private methods (such as ${method}) cannot be called remotely.`);
    const sig = signatures(this.version)[method];
    if (!sig) {
      if (MODEL_METHODS.has(method)) {
        throw err.access(
          `You are not allowed to call '${method}' on ${model} in this simulator (read-only).`,
        );
      }
      throw new OdooException(
        "builtins.AttributeError",
        `The method '${method}' does not exist on the model '${model}'`,
        "notfound",
        frames.dispatch,
      );
    }
    const { context = {}, ...kw } = kwargs;
    const positional = [...args];
    let ids: unknown;
    if (sig.records) {
      if (positional.length === 0)
        throw err.type(`${method}() missing 1 required positional argument: 'ids'`);
      ids = positional.shift();
    }
    if (positional.length > sig.params.length) {
      throw err.type(
        `BaseModel.${method}() takes from ${1 + sig.required} to ${1 + sig.params.length} positional arguments but ${1 + positional.length} were given`,
      );
    }
    const bound: Record<string, unknown> = {};
    positional.forEach((v, i) => {
      bound[sig.params[i]!] = v;
    });
    for (const [k, v] of Object.entries(kw)) {
      if (!sig.params.includes(k) && !sig.extraKw?.includes(k)) {
        throw err.type(`BaseModel.${method}() got an unexpected keyword argument '${k}'`);
      }
      if (k in bound) throw err.type(`BaseModel.${method}() got multiple values for argument '${k}'`);
      bound[k] = v;
    }
    for (let i = 0; i < sig.required; i++) {
      const p = sig.params[i]!;
      if (!(p in bound))
        throw err.type(`BaseModel.${method}() missing 1 required positional argument: '${p}'`);
    }
    return this.run(model, method, ids, bound, context);
  }

  /** Named-parameter entry point (JSON-2). */
  callNamed(model: string, method: string, body: Record<string, unknown>): PyValue {
    if (!this.store.has(model)) {
      throw new OdooException(
        "werkzeug.exceptions.NotFound",
        `the model '${model}' does not exist`,
        "notfound",
      );
    }
    if (method.startsWith("_") || !signatures(this.version)[method]) {
      throw new OdooException(
        "werkzeug.exceptions.NotFound",
        `the method '${method}' does not exist on the model '${model}'`,
        "notfound",
      );
    }
    const { ids, ...rest } = body;
    const sig = signatures(this.version)[method]!;
    return this.callKw(model, method, sig.records ? [ids ?? []] : [], rest);
  }

  private run(
    model: string,
    method: string,
    ids: unknown,
    a: Record<string, unknown>,
    context: unknown,
  ): PyValue {
    const env = this.store.makeEnv(context);
    const limit = (v: unknown) =>
      v === null || v === undefined || v === false || v === 0 ? null : Number(v);
    const order = (v: unknown) => (v === null || v === undefined || v === false ? null : String(v));
    const store = this.store;
    switch (method) {
      case "search": {
        if (a.count) return store.count(model, a.domain, env);
        const rows = store.search(
          model,
          a.domain,
          { offset: Number(a.offset ?? 0), limit: limit(a.limit), order: order(a.order) },
          env,
        );
        const t = store.table(model);
        return rows.map((r) => t.ids[r]!);
      }
      case "search_read": {
        const t = store.table(model);
        const fields = store.checkFields(t, a.fields);
        const rows = store.search(
          model,
          a.domain,
          { offset: Number(a.offset ?? 0), limit: limit(a.limit), order: order(a.order) },
          env,
        );
        return store.readRows(t, rows, fields, env, loadOf(a.load));
      }
      case "search_count":
        return store.count(model, a.domain, env, limit(a.limit));
      case "read":
        return store.read(model, ids, a.fields, env, loadOf(a.load));
      case "fields_get":
        return store.fieldsGet(model, a.allfields, a.attributes);
      case "check_access_rights":
        if (!["read", "write", "create", "unlink"].includes(String(a.operation))) {
          throw err.value(`Invalid access mode ${py(a.operation)}`);
        }
        return true;
      default:
        throw err.value(`unsupported method ${method}`);
    }
  }
}

function loadOf(v: unknown): string {
  if (v === undefined) return "_classic_read";
  return v ? String(v) : "";
}
