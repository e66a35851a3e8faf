import type { Env } from "./env.js";
import type { FieldDef } from "./models.js";
import { err, frames } from "./py.js";
import type { Table } from "./table.js";
import { NULL_DATE } from "./table.js";
import { parseDate, parseDatetime, US_PER_DAY, US_PER_SEC } from "./time.js";

export type Pred = (row: number) => boolean;

/**
 * What the compiler reads from the store (Store implements it): tables, their value getters and
 * display names. Declared here so the store can compile domains without the two importing each other.
 */
export interface DomainSource {
  /** Odoo 19 (18.4+) compares datetimes at whole seconds; ≤ 18 at microseconds. */
  readonly wholeSecondDatetimes: boolean;
  table(model: string): Table;
  rawGetter(
    t: Table,
    f: FieldDef,
    env: Env,
    opts?: { compare?: boolean },
  ): (row: number) => number | string | null;
  x2manyGetter(t: Table, f: FieldDef): (row: number) => number[];
  displayName(model: string, id: number, env: Env): string | false;
}

type Node =
  | { t: "and" | "or"; a: Node; b: Node }
  | { t: "not"; a: Node }
  | { t: "leaf"; field: string; op: string; value: unknown }
  | { t: "const"; v: boolean };

const OPS = new Set([
  "=",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "=?",
  "in",
  "not in",
  "like",
  "not like",
  "ilike",
  "not ilike",
  "=like",
  "=ilike",
  "child_of",
  "parent_of",
  "any",
  "not any",
]);

const repr = (v: unknown): string => {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(repr).join(", ")}]`;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
};

function parseDomain(domain: unknown): Node[] {
  if (domain === null || domain === undefined || domain === false) return [];
  if (!Array.isArray(domain)) throw err.value(`Invalid domain: ${repr(domain)}`, frames.domain);
  let i = 0;
  const next = (): Node => {
    if (i >= domain.length)
      throw err.value(`Domain ${repr(domain)} is syntactically not correct.`, frames.domain);
    const item = domain[i++];
    if (item === "&" || item === "|") {
      const a = next();
      const b = next();
      return { t: item === "&" ? "and" : "or", a, b };
    }
    if (item === "!") return { t: "not", a: next() };
    if (Array.isArray(item) && item.length === 3) {
      const [field, op, value] = item;
      if (field === 1 && op === "=" && value === 1) return { t: "const", v: true };
      if (field === 0 && op === "=" && value === 1) return { t: "const", v: false };
      if (typeof field !== "string" || typeof op !== "string") {
        throw err.value(`Invalid leaf ${repr(item)}`, frames.domain);
      }
      let o = op.toLowerCase();
      if (o === "<>") o = "!=";
      if (o === "==") o = "=";
      if (!OPS.has(o)) throw err.value(`Invalid leaf ${repr(item)}`, frames.domain);
      return { t: "leaf", field, op: o, value };
    }
    if (item === true) return { t: "const", v: true };
    if (item === false) return { t: "const", v: false };
    throw err.value(`Invalid leaf ${repr(item)}`, frames.domain);
  };
  const nodes: Node[] = [];
  while (i < domain.length) nodes.push(next());
  return nodes;
}

/** A bound on an indexed key extracted from the top-level conjunction (inclusive, conservative). */
export interface Bounds {
  lo: number;
  hi: number;
}

export interface CompiledDomain {
  pred: Pred;
  idBounds: Bounds;
  writeDateBounds: Bounds;
}

function likeRegex(pattern: string, wrap: boolean, insensitive: boolean): RegExp {
  let src = "";
  for (let k = 0; k < pattern.length; k++) {
    const c = pattern[k]!;
    if (c === "\\" && k + 1 < pattern.length) {
      src += pattern[++k]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else if (wrap) src += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    else if (c === "%") src += "[\\s\\S]*";
    else if (c === "_") src += "[\\s\\S]";
    else src += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(wrap ? src : `^${src}$`, insensitive ? "i" : "");
}

export class DomainCompiler {
  constructor(
    private readonly store: DomainSource,
    private readonly env: Env,
  ) {}

  compile(
    model: string,
    domain: unknown,
    opts: { activeTest?: boolean; companyRule?: boolean } = {},
  ): CompiledDomain {
    const t = this.store.table(model);
    const nodes = parseDomain(domain);
    const def = t.def;
    const activeTest = opts.activeTest ?? this.env.activeTest;
    if (def.activeField && activeTest) {
      const mentions = (Array.isArray(domain) ? domain : []).some(
        (item) => Array.isArray(item) && item[0] === def.activeField,
      );
      if (!mentions) nodes.unshift({ t: "leaf", field: def.activeField, op: "=", value: true });
    }
    const idBounds: Bounds = { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY };
    const writeDateBounds: Bounds = { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY };
    const conj: Node[] = [];
    const flatten = (n: Node) => {
      if (n.t === "and") {
        flatten(n.a);
        flatten(n.b);
      } else conj.push(n);
    };
    for (const n of nodes) flatten(n);
    for (const n of conj) {
      if (n.t !== "leaf") continue;
      if (n.field === "id" && typeof n.value === "number") narrow(idBounds, n.op, n.value, 0);
      if (n.field === "write_date" && typeof n.value === "string") {
        const us = parseDatetime(n.value);
        if (us !== null) narrow(writeDateBounds, n.op, us, US_PER_DAY);
      }
    }
    const preds = conj.map((n) => this.node(t, n));
    if (opts.companyRule !== false) {
      const rule = this.companyPred(t);
      if (rule) preds.unshift(rule);
    }
    const pred = and(preds);
    return { pred, idBounds, writeDateBounds };
  }

  private companyPred(t: Table): Pred | null {
    const rule = t.def.company;
    const allowed = new Set(this.env.companies);
    switch (rule.kind) {
      case "company_id": {
        const c = t.i32("company_id");
        return rule.allowFalse ? (r) => c[r] === 0 || allowed.has(c[r]!) : (r) => allowed.has(c[r]!);
      }
      case "company_ids": {
        const c = t.ref("company_ids") as number[][];
        return (r) => (c[r] ?? []).some((id) => allowed.has(id));
      }
      case "self":
        return (r) => allowed.has(t.ids[r]!);
      default:
        return null;
    }
  }

  private node(t: Table, n: Node): Pred {
    switch (n.t) {
      case "const":
        return n.v ? () => true : () => false;
      case "and":
        return and([this.node(t, n.a), this.node(t, n.b)]);
      case "or": {
        const a = this.node(t, n.a);
        const b = this.node(t, n.b);
        return (r) => a(r) || b(r);
      }
      case "not": {
        const a = this.node(t, n.a);
        return (r) => !a(r);
      }
      case "leaf":
        return this.leaf(t, n.field, n.op, n.value);
    }
  }

  private invalidField(t: Table, name: string) {
    return err.value(`Invalid field '${name}' on model '${t.def.name}'`, frames.domain);
  }

  /** Ids of `model` records matching a sub-domain (archived included, no company rule: like a SQL join). */
  private subIds(model: string, domain: unknown): Set<number> {
    const sub = new DomainCompiler(this.store, this.env).compile(model, domain, {
      activeTest: false,
      companyRule: false,
    });
    const t = this.store.table(model);
    const out = new Set<number>();
    for (let r = 0; r < t.size; r++) if (t.alive[r] && sub.pred(r)) out.add(t.ids[r]!);
    return out;
  }

  private nameSearch(model: string, op: string, value: unknown): Set<number> {
    const t = this.store.table(model);
    const out = new Set<number>();
    const values = Array.isArray(value) ? value : [value];
    const tests = values.map((v) => {
      const s = String(v);
      if (op === "=" || op === "!=" || op === "in" || op === "not in") return (x: string) => x === s;
      const insensitive = op.includes("ilike");
      const re = likeRegex(s, !op.includes("="), insensitive);
      return (x: string) => re.test(x);
    });
    for (let r = 0; r < t.size; r++) {
      if (!t.alive[r]) continue;
      const name = this.store.displayName(model, t.ids[r]!, this.env);
      if (name !== false && tests.some((f) => f(name))) out.add(t.ids[r]!);
    }
    return out;
  }

  private leaf(t: Table, path: string, op: string, value: unknown): Pred {
    const model = t.def.name;
    const dot = path.indexOf(".");
    if (dot > 0) {
      const head = t.def.byName.get(path.slice(0, dot));
      if (!head) throw this.invalidField(t, path.slice(0, dot));
      if (!head.relation) throw err.value(`Invalid field '${path}' on model '${model}'`, frames.domain);
      const ids = this.subIds(head.relation, [[path.slice(dot + 1), op, value]]);
      return this.leaf(t, head.name, "in", [...ids]);
    }
    if (op === "=?") {
      if (value === false || value === null || value === undefined) return () => true;
      return this.leaf(t, path, "=", value);
    }
    const f = path === "id" ? undefined : t.def.byName.get(path);
    if (path !== "id" && !f) throw this.invalidField(t, path);
    if (f && (f.type === "one2many" || f.type === "many2many")) return this.x2many(t, f, op, value);
    if (op === "any" || op === "not any") {
      if (f?.type !== "many2one") throw err.value(`Invalid leaf ('${path}', '${op}', ...)`, frames.domain);
      const ids = this.subIds(f.relation!, value);
      return this.leaf(t, path, op === "any" ? "in" : "not in", [...ids]);
    }
    if (op === "child_of" || op === "parent_of") {
      const comodel = f ? f.relation : model;
      if (f && f.type !== "many2one")
        throw err.value(`Invalid leaf ('${path}', '${op}', ...)`, frames.domain);
      const ids = this.hierarchy(comodel!, value, op);
      return this.leaf(t, path, "in", [...ids]);
    }
    const get = this.getter(t, f);
    const type = f?.type ?? "integer";
    const isM2o = type === "many2one";
    const isString = type === "char" || type === "text" || type === "html" || type === "selection";
    // many2one compared with a string: Odoo runs a name_search on the comodel.
    if (
      isM2o &&
      (typeof value === "string" || (Array.isArray(value) && value.some((v) => typeof v === "string")))
    ) {
      const ids = this.nameSearch(f!.relation!, op, value);
      const negative = op === "!=" || op.startsWith("not ");
      const c = get;
      return negative ? (r) => !ids.has(c(r) as number) : (r) => ids.has(c(r) as number);
    }
    const coerce = (v: unknown): number | string | null => this.coerce(t, f, v, op);
    switch (op) {
      case "=":
      case "!=": {
        const v = coerce(value);
        const eq: Pred = v === null ? (r) => get(r) === null : (r) => get(r) === v;
        return op === "=" ? eq : (r) => !eq(r);
      }
      case "<":
      case "<=":
      case ">":
      case ">=": {
        const v = coerce(value);
        if (v === null) return () => false;
        const cmp = {
          "<": (a: number | string) => a < v,
          "<=": (a: number | string) => a <= v,
          ">": (a: number | string) => a > v,
          ">=": (a: number | string) => a >= v,
        }[op];
        return (r) => {
          const a = get(r);
          return a !== null && cmp(a);
        };
      }
      case "in":
      case "not in": {
        const list = Array.isArray(value) ? value : [value];
        const hasNull = list.some((v) => v === false || v === null);
        const set = new Set(list.filter((v) => v !== false && v !== null).map(coerce));
        const inP: Pred = (r) => {
          const a = get(r);
          return a === null ? hasNull : set.has(a);
        };
        return op === "in" ? inP : (r) => !inP(r);
      }
      default: {
        // like family
        if (value === false || value === null) {
          return op.startsWith("not") ? (r) => get(r) !== null : (r) => get(r) === null;
        }
        const base = op.replace("not ", "");
        const re = likeRegex(String(value), !base.startsWith("="), base.includes("ilike"));
        const toText = isString ? (a: number | string) => a as string : (a: number | string) => String(a);
        if (op.startsWith("not ")) {
          return (r) => {
            const a = get(r);
            return a === null || !re.test(toText(a));
          };
        }
        return (r) => {
          const a = get(r);
          return a !== null && re.test(toText(a));
        };
      }
    }
  }

  private hierarchy(model: string, value: unknown, op: string): Set<number> {
    const t = this.store.table(model);
    const start = (Array.isArray(value) ? value : [value]).filter((v): v is number => typeof v === "number");
    const out = new Set<number>(start.filter((id) => t.rowOf(id) >= 0));
    const parentName = t.def.parentField;
    if (!parentName) return out;
    const parent = t.i32(parentName);
    if (op === "parent_of") {
      for (const id of [...out]) {
        let r = t.rowOf(id);
        while (r >= 0 && parent[r]! > 0 && !out.has(parent[r]!)) {
          out.add(parent[r]!);
          r = t.rowOf(parent[r]!);
        }
      }
      return out;
    }
    let changed = true;
    while (changed) {
      changed = false;
      for (let r = 0; r < t.size; r++) {
        if (t.alive[r] && parent[r]! > 0 && out.has(parent[r]!) && !out.has(t.ids[r]!)) {
          out.add(t.ids[r]!);
          changed = true;
        }
      }
    }
    return out;
  }

  private x2many(t: Table, f: FieldDef, op: string, value: unknown): Pred {
    const lists = this.store.x2manyGetter(t, f);
    if (value === false || value === null) {
      if (op === "=") return (r) => lists(r).length === 0;
      if (op === "!=") return (r) => lists(r).length > 0;
    }
    let ids: Set<number>;
    if (op === "any" || op === "not any") ids = this.subIds(f.relation!, value);
    else if (
      typeof value === "string" ||
      (Array.isArray(value) && value.some((v) => typeof v === "string"))
    ) {
      ids = this.nameSearch(f.relation!, op, value);
    } else {
      ids = new Set(
        (Array.isArray(value) ? value : [value]).filter((v): v is number => typeof v === "number"),
      );
    }
    const any: Pred = (r) => lists(r).some((id) => ids.has(id));
    const negative = op === "!=" || op.startsWith("not ");
    return negative ? (r) => !any(r) : any;
  }

  /** Raw comparable value of a field on a row: number (ids, dates, datetimes, numbers) or string, or null. */
  getter(t: Table, f: FieldDef | undefined): (row: number) => number | string | null {
    if (!f) {
      const ids = t.ids;
      return (r) => ids[r]!;
    }
    return this.store.rawGetter(t, f, this.env, { compare: true });
  }

  private coerce(t: Table, f: FieldDef | undefined, v: unknown, op: string): number | string | null {
    if (v === false || v === null || v === undefined) {
      if (f?.type === "boolean") return 0;
      if (f && (f.type === "integer" || f.type === "float" || f.type === "monetary")) return 0;
      return null;
    }
    const type = f?.type ?? "integer";
    switch (type) {
      case "boolean":
        return v ? 1 : 0;
      case "date": {
        const d = typeof v === "string" ? parseDate(v) : null;
        if (d === null) throw err.value(`Invalid date value ${repr(v)} for field ${t.def.name}.${f!.name}`);
        return d;
      }
      case "datetime": {
        if (typeof v !== "string") throw err.value(`Invalid datetime ${repr(v)}`);
        let us = parseDatetime(v);
        if (us === null) throw err.value(`time data ${repr(v)} does not match format '%Y-%m-%d %H:%M:%S'`);
        // A bare date on a datetime field: Odoo completes it to the end of the day for > and <=.
        if (/^\d{4}-\d{2}-\d{2}$/.test(v) && (op === ">" || op === "<=")) us += US_PER_DAY - US_PER_SEC;
        if (this.store.wholeSecondDatetimes) us = Math.floor(us / US_PER_SEC) * US_PER_SEC;
        return us;
      }
      case "integer":
      case "many2one":
      case "float":
      case "monetary":
        if (typeof v === "number") return v;
        if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
        if (type === "integer" || type === "many2one") {
          throw err.value(`invalid input syntax for type integer: ${repr(v)}`);
        }
        return Number.NaN;
      default:
        return typeof v === "string" ? v : String(v);
    }
  }
}

function narrow(b: Bounds, op: string, v: number, slack: number): void {
  switch (op) {
    case "=":
      b.lo = Math.max(b.lo, v - slack);
      b.hi = Math.min(b.hi, v + slack);
      break;
    case ">":
    case ">=":
      b.lo = Math.max(b.lo, v - slack);
      break;
    case "<":
    case "<=":
      b.hi = Math.min(b.hi, v + slack);
      break;
  }
}

function and(preds: Pred[]): Pred {
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0]!;
  if (preds.length === 2) {
    const [a, b] = preds as [Pred, Pred];
    return (r) => a(r) && b(r);
  }
  return (r) => {
    for (const p of preds) if (!p(r)) return false;
    return true;
  };
}

export { NULL_DATE };
