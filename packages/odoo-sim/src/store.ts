import { DomainCompiler, type DomainSource } from "./domain.js";
import type { Env } from "./env.js";
import {
  buildModels,
  type ComputeArgs,
  type ComputeHooks,
  type FieldDef,
  type ModelDef,
  type OdooVersion,
} from "./models.js";
import { err, frames, PyFloat, type PyValue } from "./py.js";
import { NULL_DATE, Table } from "./table.js";
import { formatDate, formatDatetime, US_PER_SEC } from "./time.js";

export interface SearchOptions {
  offset?: number;
  limit?: number | null;
  order?: string | null;
}

type Raw = number | string | null;

const MOVE_DRAFT_NAMES: Record<string, string> = {
  out_invoice: "Draft Invoice",
  out_refund: "Draft Credit Note",
  in_invoice: "Draft Bill",
  in_refund: "Draft Vendor Credit Note",
  out_receipt: "Draft Sales Receipt",
  in_receipt: "Draft Purchase Receipt",
  entry: "Draft Entry",
};

/** The whole database: one {@link Table} per model plus the query engine over them. */
export class Store implements DomainSource {
  readonly models: Map<string, ModelDef>;
  readonly tables = new Map<string, Table>();
  readonly uid = 2;
  userCompanies: number[] = [1, 2];
  userCompany = 1;
  /** Odoo 19 (18.4+) compares datetimes at whole seconds; ≤ 18 at microseconds. */
  readonly wholeSecondDatetimes: boolean;
  /** Exchange rates: units of currency per 1 unit of the company currency, by company. */
  rates = new Map<number, Map<number, number>>();
  private readonly nameCache = new Map<string, { version: number; names: (string | false | undefined)[] }>();
  private readonly reverseCache = new Map<string, { version: number; lists: number[][] }>();

  constructor(readonly version: OdooVersion) {
    this.wholeSecondDatetimes = version >= 19;
    this.models = buildModels(version, this.hooks());
    for (const def of this.models.values()) this.tables.set(def.name, new Table(def));
  }

  has(model: string): boolean {
    return this.tables.has(model);
  }

  table(model: string): Table {
    const t = this.tables.get(model);
    if (!t) throw err.user(`Object ${model} doesn't exist`);
    return t;
  }

  /** Allocates a table with room for `rows` rows before bulk generation. */
  presize(model: string, rows: number): Table {
    const t = new Table(this.table(model).def, rows);
    this.tables.set(model, t);
    return t;
  }

  makeEnv(context: unknown): Env {
    const ctx = (context && typeof context === "object" ? context : {}) as Record<string, unknown>;
    let companies = this.userCompanies;
    let company = this.userCompany;
    const allowed = ctx.allowed_company_ids;
    if (Array.isArray(allowed) && allowed.length > 0) {
      const ids = allowed.map((v) => Number(v));
      if (ids.some((id) => !this.userCompanies.includes(id))) {
        throw err.access("Access to unauthorized or invalid companies.");
      }
      companies = ids;
      company = ids[0]!;
    }
    return { uid: this.uid, companies, company, activeTest: ctx.active_test !== false, context: ctx };
  }

  // ---- values -----------------------------------------------------------------------------

  /** A comparable raw value: ids/dates/datetimes/numbers as numbers, strings, null for NULL. */
  rawGetter(t: Table, f: FieldDef, env: Env, opts: { compare?: boolean } = {}): (row: number) => Raw {
    if (f.name === "id") {
      const ids = t.ids;
      return (r) => ids[r]!;
    }
    if (f.compute) {
      if (f.searchAs) return this.rawGetter(t, t.def.byName.get(f.searchAs)!, env, opts);
      if (f.name === "display_name") return (r) => this.displayName(t.def.name, t.ids[r]!, env) || null;
      throw err.value(`Non-stored field ${t.def.name}.${f.name} cannot be searched.`, frames.domain);
    }
    const c = t.col(f.name);
    switch (c.kind) {
      case "i32": {
        const d = c.data;
        if (f.type === "many2one") return (r) => d[r] || null;
        if (f.type === "date") return (r) => (d[r] === NULL_DATE ? null : d[r]!);
        return (r) => d[r]!;
      }
      case "f64": {
        const d = c.data;
        if (f.type === "datetime") {
          if (opts.compare && this.wholeSecondDatetimes) {
            return (r) => (Number.isNaN(d[r]!) ? null : Math.floor(d[r]! / US_PER_SEC) * US_PER_SEC);
          }
          return (r) => (Number.isNaN(d[r]!) ? null : d[r]!);
        }
        return (r) => d[r]!;
      }
      case "u8": {
        const d = c.data;
        return (r) => d[r]!;
      }
      case "ref": {
        const d = c.data;
        if (f.companyDependent) {
          return (r) => ((d[r] as Record<number, string> | undefined)?.[env.company] ?? null) as Raw;
        }
        return (r) => (d[r] ?? null) as Raw;
      }
    }
  }

  /** Ids held by a one2many/many2many field for a row. */
  x2manyGetter(t: Table, f: FieldDef): (row: number) => number[] {
    if (f.type === "many2many") {
      const d = t.ref(f.name);
      return (r) => (d[r] as number[] | undefined) ?? [];
    }
    const lists = this.reverseIndex(f.relation!, f.inverse!);
    const rel = this.table(f.relation!);
    const filter = f.o2mFilter;
    return (r) => {
      const list = lists[t.ids[r]!] ?? [];
      return filter ? list.filter((id) => filter(rel.rowOf(id))) : list;
    };
  }

  /** For a many2one `inverse` on `model`: parent id → child ids (in id order). */
  private reverseIndex(model: string, inverse: string): number[][] {
    const t = this.table(model);
    const key = `${model}.${inverse}`;
    const hit = this.reverseCache.get(key);
    if (hit && hit.version === t.version) return hit.lists;
    const parent = t.i32(inverse);
    const lists: number[][] = [];
    for (let r = 0; r < t.size; r++) {
      if (!t.alive[r]) continue;
      const p = parent[r]!;
      if (p === 0) continue;
      let list = lists[p];
      if (!list) {
        list = [];
        lists[p] = list;
      }
      list.push(t.ids[r]!);
    }
    this.reverseCache.set(key, { version: t.version, lists });
    return lists;
  }

  displayName(model: string, id: number, env: Env): string | false {
    const t = this.tables.get(model);
    if (!t) return false;
    const row = t.rowOf(id);
    if (row < 0) return false;
    const perCompany = model === "account.account" && this.version >= 18;
    const key = perCompany ? `${model}#${env.company}` : model;
    let cache = this.nameCache.get(key);
    if (!cache || cache.version !== t.version) {
      cache = { version: t.version, names: [] };
      this.nameCache.set(key, cache);
    }
    let name = cache.names[row];
    if (name === undefined) {
      name = this.computeDisplayName(t, row, env);
      cache.names[row] = name;
    }
    return name;
  }

  private computeDisplayName(t: Table, row: number, env: Env): string | false {
    const str = (field: string) => (t.ref(field)[row] as string | undefined) ?? "";
    switch (t.def.name) {
      case "res.partner":
        return str("complete_name") || str("name") || false;
      case "account.account": {
        const code =
          this.version >= 18
            ? ((t.ref("code_store")[row] as Record<number, string> | undefined)?.[env.company] ?? "")
            : str("code");
        return code ? `${code} ${str("name")}` : str("name");
      }
      case "account.move": {
        let name = "";
        const state = str("state");
        if (state === "draft") name += `${MOVE_DRAFT_NAMES[str("move_type")] ?? "Draft Entry"} `;
        const n = str("name");
        name += !n || n === "/" ? `(* ${t.ids[row]})` : n;
        return name;
      }
      case "account.move.line": {
        const moves = this.table("account.move");
        const moveRow = moves.rowOf(t.i32("move_id")[row]!);
        const moveName = moveRow >= 0 ? (moves.ref("name")[moveRow] as string | undefined) : undefined;
        const ref = str("ref");
        return [moveName, ref && `(${ref})`, str("name")].filter(Boolean).join(" ");
      }
      case "account.partial.reconcile":
        // no name field and no _rec_name: Odoo shows "<model>,<id>"
        return `${t.def.name},${t.ids[row]}`;
      case "account.full.reconcile":
        // 16 has a name ("A12"); 17+ has none, like account.partial.reconcile
        return this.version === 16 ? str("name") || false : `${t.def.name},${t.ids[row]}`;
      default:
        return str("name") || false;
    }
  }

  private hooks(): ComputeHooks {
    const displayName =
      (model: string) =>
      ({ row, company }: ComputeArgs): PyValue =>
        this.displayName(model, this.table(model).ids[row]!, this.envFor(company));
    const hooks: ComputeHooks = {};
    for (const model of [
      "res.company",
      "res.users",
      "res.currency",
      "res.partner",
      "account.account",
      "account.journal",
      "account.analytic.account",
      "account.move",
      "account.move.line",
      "account.payment",
      "account.partial.reconcile",
      "account.full.reconcile",
      "res.country",
    ]) {
      hooks[model] = { display_name: displayName(model) };
    }
    hooks["account.partial.reconcile"]!.company_currency_id = ({ row }) => {
      const company = this.table("account.partial.reconcile").i32("company_id")[row]!;
      const companies = this.table("res.company");
      const r = companies.rowOf(company);
      const currency = r < 0 ? 0 : companies.i32("currency_id")[r]!;
      if (!currency) return false;
      return [currency, this.displayName("res.currency", currency, this.envFor(company))];
    };
    hooks["res.currency"]!.decimal_places = ({ row }) => {
      const rounding = this.table("res.currency").f64("rounding")[row]!;
      return rounding > 0 && rounding < 1 ? Math.ceil(Math.log10(1 / rounding) - 1e-9) : 0;
    };
    hooks["res.currency"]!.rate = ({ row, company }) => {
      const id = this.table("res.currency").ids[row]!;
      return new PyFloat(this.rates.get(company)?.get(id) ?? 1);
    };
    hooks["account.account"]!.code = ({ row, company }) =>
      ((this.table("account.account").ref("code_store")[row] as Record<number, string> | undefined)?.[
        company
      ] ?? false) as PyValue;
    hooks["account.move"]!.tax_totals = ({ row }) => {
      const t = this.table("account.move");
      const type = t.ref("move_type")[row] as string;
      if (type === "entry") return false;
      const amount = (f: string) => new PyFloat(t.f64(f)[row]!);
      const totals: Record<string, PyValue> = {
        amount_untaxed: amount("amount_untaxed"),
        amount_total: amount("amount_total"),
        formatted_amount_total: `${t.f64("amount_total")[row]!.toFixed(2)}`,
        allow_tax_edition: false,
        // Odoo 16 leaves this None for documents without a cash rounding: the reason XML-RPC
        // cannot marshal account.move when every field is requested.
        display_tax_base: this.version === 16 ? null : true,
      };
      return totals;
    };
    // Odoo 16 computes it: the full reconcile's name, "P" while only partially matched, else None.
    hooks["account.move.line"]!.matching_number = ({ row }) => {
      const t = this.table("account.move.line");
      const full = t.i32("full_reconcile_id")[row]!;
      if (full) return this.displayName("account.full.reconcile", full, this.envFor(this.userCompany));
      const id = t.ids[row]!;
      const debit = this.reverseIndex("account.partial.reconcile", "debit_move_id");
      const credit = this.reverseIndex("account.partial.reconcile", "credit_move_id");
      return debit[id] || credit[id] ? "P" : false;
    };
    hooks["account.move.line"]!.compute_all_tax = ({ row }) => {
      const t = this.table("account.move.line");
      if (t.ref("display_type")[row] !== "product") return {};
      // Odoo 17 keys this dict with frozendicts: not marshallable over XML-RPC.
      const m = new Map<unknown, PyValue>();
      m.set({ tax_repartition_line_id: 1, account_id: t.i32("account_id")[row] }, { amount: new PyFloat(0) });
      return m;
    };
    return hooks;
  }

  envFor(company: number): Env {
    return { uid: this.uid, companies: this.userCompanies, company, activeTest: true, context: {} };
  }

  /** The Odoo-shaped value reader for one field (what `read` returns). */
  reader(t: Table, f: FieldDef, env: Env, load: string): (row: number) => PyValue {
    if (f.name === "id") return (r) => t.ids[r]!;
    if (f.compute) {
      const compute = f.compute;
      const company = env.company;
      if (f.type === "many2one" && load !== "_classic_read") {
        // load '' → bare ids, like stored many2ones
        return (row) => {
          const v = compute({ row, company });
          return Array.isArray(v) ? (v[0] as PyValue) : v;
        };
      }
      return (row) => compute({ row, company });
    }
    switch (f.type) {
      case "one2many":
      case "many2many": {
        const g = this.x2manyGetter(t, f);
        return (r) => g(r).slice();
      }
      case "many2one": {
        const d = t.i32(f.name);
        const rel = f.relation!;
        if (load === "_classic_read") {
          return (r) => {
            const id = d[r]!;
            if (id === 0) return false;
            const name = this.displayName(rel, id, env);
            return name === false && !this.tables.get(rel) ? [id, ""] : [id, name];
          };
        }
        return (r) => d[r] || false;
      }
      case "integer": {
        const d = t.i32(f.name);
        const big = t.bigInts;
        if (big.size > 0) return (r) => big.get(`${f.name}:${r}`) ?? d[r]!;
        return (r) => d[r]!;
      }
      case "float":
      case "monetary": {
        const d = t.f64(f.name);
        return (r) => new PyFloat(d[r]!);
      }
      case "boolean": {
        const d = t.u8(f.name);
        return (r) => d[r] === 1;
      }
      case "date": {
        const d = t.i32(f.name);
        return (r) => (d[r] === NULL_DATE ? false : formatDate(d[r]!));
      }
      case "datetime": {
        const d = t.f64(f.name);
        return (r) => (Number.isNaN(d[r]!) ? false : formatDatetime(d[r]!));
      }
      case "json": {
        const d = t.ref(f.name);
        return (r) => (d[r] ?? false) as PyValue;
      }
      default: {
        const d = t.ref(f.name);
        if (f.companyDependent) {
          return (r) => (d[r] as Record<number, string> | undefined)?.[env.company] ?? false;
        }
        return (r) => (d[r] ?? false) as PyValue;
      }
    }
  }

  // ---- ORM methods --------------------------------------------------------------------------

  checkFields(t: Table, fields: unknown): FieldDef[] {
    if (fields === null || fields === undefined || fields === false) return t.def.fields;
    if (!Array.isArray(fields)) throw err.value(`Invalid field list ${String(fields)}`);
    if (fields.length === 0) return t.def.fields;
    const out: FieldDef[] = [];
    const seen = new Set<string>();
    for (const name of fields) {
      const f = typeof name === "string" ? t.def.byName.get(name) : undefined;
      if (!f) throw err.value(`Invalid field '${String(name)}' on model '${t.def.name}'`, frames.read);
      if (seen.has(f.name)) continue;
      seen.add(f.name);
      out.push(f);
    }
    return out;
  }

  readRows(
    t: Table,
    rows: ArrayLike<number>,
    fields: FieldDef[],
    env: Env,
    load = "_classic_read",
  ): PyValue[] {
    const readers = fields
      .filter((f) => f.name !== "id")
      .map((f) => [f.name, this.reader(t, f, env, load)] as const);
    const out: PyValue[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const rec: Record<string, PyValue> = { id: t.ids[r]! };
      for (const [name, read] of readers) rec[name] = read(r);
      out[i] = rec;
    }
    return out;
  }

  /** Odoo's `read`: ids that no longer exist are dropped; records outside the allowed companies fault 4. */
  read(model: string, ids: unknown, fields: unknown, env: Env, load = "_classic_read"): PyValue[] {
    const t = this.table(model);
    const list = (Array.isArray(ids) ? ids : [ids]).map((v) => {
      if (typeof v !== "number" || !Number.isInteger(v)) throw err.value(`Invalid id ${String(v)}`);
      return v;
    });
    const defs = this.checkFields(t, fields);
    const rows = list.map((id) => t.rowOf(id)).filter((r) => r >= 0);
    const rule = new DomainCompiler(this, env).compile(model, [], { activeTest: false }).pred;
    const denied = rows.filter((r) => !rule(r));
    if (denied.length > 0) {
      const desc = `${t.def.description}' (${model})`;
      const recs = denied
        .slice(0, 3)
        .map((r) => `${this.displayName(model, t.ids[r]!, env) || ""} (id=${t.ids[r]})`)
        .join(", ");
      throw err.access(
        `Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, Administrator (id=2) doesn't have 'read' access to:\n- ${t.def.description}, ${recs} ('${desc}')\n\nBlame the following rules:\n- ${t.def.description} multi-company\n\nIf you really, really need access, perhaps you can win over your friendly administrator with a batch of freshly baked cookies.`,
      );
    }
    return this.readRows(t, rows, defs, env, load);
  }

  /** Matching rows in order, after offset/limit. */
  search(model: string, domain: unknown, opts: SearchOptions, env: Env): number[] {
    const t = this.table(model);
    const { pred, idBounds, writeDateBounds } = new DomainCompiler(this, env).compile(model, domain);
    const offset = Math.max(0, Number(opts.offset ?? 0) || 0);
    const limit = opts.limit ? Number(opts.limit) : Number.POSITIVE_INFINITY;
    const out: number[] = [];
    let skipped = 0;
    const take = (r: number): boolean => {
      if (!t.alive[r] || !pred(r)) return true;
      if (skipped < offset) {
        skipped++;
        return true;
      }
      out.push(r);
      return out.length < limit;
    };
    const keys = this.parseOrder(t, opts.order || t.def.order);
    const sig = keys.map((k) => `${k.field.name} ${k.desc ? "desc" : "asc"}`).join(",");
    if (sig === "id asc" || sig === "id desc") {
      const lo = t.lowerBoundId(Math.ceil(idBounds.lo));
      const hi = Number.isFinite(idBounds.hi) ? t.lowerBoundId(Math.floor(idBounds.hi) + 1) : t.size;
      if (sig === "id asc") {
        for (let r = lo; r < hi; r++) if (!take(r)) break;
      } else {
        for (let r = hi - 1; r >= lo; r--) if (!take(r)) break;
      }
      return out;
    }
    if (
      t.cols.has("write_date") &&
      (sig === "write_date asc" ||
        sig === "write_date asc,id asc" ||
        sig === "write_date desc" ||
        sig === "write_date desc,id desc")
    ) {
      const index = t.writeDateIndex();
      const wd = t.f64("write_date");
      const lowerBound = (v: number) => {
        let a = 0;
        let b = index.length;
        while (a < b) {
          const m = (a + b) >>> 1;
          if (wd[index[m]!]! < v) a = m + 1;
          else b = m;
        }
        return a;
      };
      const lo = Number.isFinite(writeDateBounds.lo) ? lowerBound(writeDateBounds.lo) : 0;
      const hi = Number.isFinite(writeDateBounds.hi) ? lowerBound(writeDateBounds.hi + 1) : index.length;
      if (sig.startsWith("write_date asc")) {
        for (let i = lo; i < hi; i++) if (!take(index[i]!)) break;
      } else {
        for (let i = hi - 1; i >= lo; i--) if (!take(index[i]!)) break;
      }
      return out;
    }
    const compare = this.comparator(t, keys, env);
    const sorted = t.sorted(`${sig}#${env.company}`, compare);
    for (let i = 0; i < sorted.length; i++) if (!take(sorted[i]!)) break;
    return out;
  }

  count(model: string, domain: unknown, env: Env, limit?: number | null): number {
    const t = this.table(model);
    const { pred, idBounds } = new DomainCompiler(this, env).compile(model, domain);
    // Like PostgreSQL with its primary key: only the rows inside the domain's id range are visited.
    const lo = t.lowerBoundId(Math.ceil(idBounds.lo));
    const hi = Number.isFinite(idBounds.hi) ? t.lowerBoundId(Math.floor(idBounds.hi) + 1) : t.size;
    let n = 0;
    const max = limit ? limit : Number.POSITIVE_INFINITY;
    for (let r = lo; r < hi && n < max; r++) if (t.alive[r] && pred(r)) n++;
    return n;
  }

  parseOrder(t: Table, order: string): { field: FieldDef; desc: boolean; nullsFirst: boolean }[] {
    const bad = () =>
      err.value(
        `Invalid "order" specified (${order}). A valid "order" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)`,
      );
    if (typeof order !== "string") throw bad();
    const keys: { field: FieldDef; desc: boolean; nullsFirst: boolean }[] = [];
    for (const part of order.split(",")) {
      const m = /^\s*([a-z0-9_]+)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$/i.exec(part);
      if (!m) throw bad();
      const f = t.def.byName.get(m[1]!);
      if (!f) {
        // default orders name fields some versions lack (e.g. plan_id): skip them like a no-op
        if (order === t.def.order) continue;
        throw bad();
      }
      if (f.compute && !f.searchAs && f.name !== "display_name") throw bad();
      if (f.type === "one2many" || f.type === "many2many") throw bad();
      const desc = (m[2] ?? "asc").toLowerCase() === "desc";
      keys.push({ field: f, desc, nullsFirst: m[3] ? m[3].toLowerCase() === "first" : desc });
    }
    if (keys.length === 0) keys.push({ field: t.def.byName.get("id")!, desc: false, nullsFirst: false });
    return keys;
  }

  private comparator(
    t: Table,
    keys: { field: FieldDef; desc: boolean; nullsFirst: boolean }[],
    env: Env,
  ): (a: number, b: number) => number {
    const getters = keys.map((k) => ({ get: this.rawGetter(t, k.field, env), ...k }));
    return (a, b) => {
      for (const { get, desc, nullsFirst } of getters) {
        const x = get(a);
        const y = get(b);
        if (x === y) continue;
        if (x === null) return nullsFirst ? -1 : 1;
        if (y === null) return nullsFirst ? 1 : -1;
        const c = x < y ? -1 : 1;
        return desc ? -c : c;
      }
      return a - b;
    };
  }

  fieldsGet(model: string, allfields: unknown, attributes: unknown): Record<string, PyValue> {
    const t = this.table(model);
    const attrs = Array.isArray(attributes) && attributes.length > 0 ? new Set(attributes.map(String)) : null;
    const only = Array.isArray(allfields) && allfields.length > 0 ? new Set(allfields.map(String)) : null;
    const out: Record<string, PyValue> = {};
    for (const f of t.def.fields) {
      if (only && !only.has(f.name)) continue;
      const desc: Record<string, PyValue> = {
        change_default: false,
        company_dependent: !!f.companyDependent,
        depends: f.compute ? [] : [],
        exportable: true,
        groupable:
          f.store && !f.compute && f.type !== "one2many" && f.type !== "many2many" && f.type !== "text",
        manual: false,
        name: f.name,
        readonly: !!f.readonly,
        required: !!f.required,
        searchable: !f.compute || !!f.searchAs || f.name === "display_name",
        sortable: (!f.compute || !!f.searchAs) && f.type !== "one2many" && f.type !== "many2many",
        store: f.store && !f.compute,
        string: f.string,
        type: f.type,
      };
      if (f.help) desc.help = f.help;
      if (f.type === "char" || f.type === "text" || f.type === "html") desc.translate = false;
      if (f.type === "char") desc.trim = true;
      if (f.relation) {
        desc.relation = f.relation;
        desc.context = {};
        desc.domain = [];
      }
      if (f.type === "one2many" && f.inverse) desc.relation_field = f.inverse;
      if (f.selection) desc.selection = f.selection.map(([v, l]) => [v, l]);
      if (f.type === "monetary")
        desc.currency_field =
          f.currencyField ?? (f.name === "amount" ? "currency_id" : "company_currency_id");
      if (f.type === "float" || f.type === "monetary") desc.aggregator = "sum";
      if (attrs) {
        const filtered: Record<string, PyValue> = {};
        for (const a of attrs) if (a in desc) filtered[a] = desc[a]!;
        out[f.name] = filtered;
      } else out[f.name] = desc;
    }
    return out;
  }
}
