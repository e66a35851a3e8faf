import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { deepValue, poisonValue, type RawValue } from "./misbehave.js";
import {
  type Concurrency,
  DEFAULT_PERFORMANCE,
  emptyConcurrency,
  mergePerformance,
  type Performance,
  WorkerPool,
} from "./performance.js";
import type { PyValue } from "./py.js";
import { refreshFullReconciles } from "./reconcile.js";
import type { OdooService } from "./rpc.js";
import type { Store } from "./store.js";
import type { Table } from "./table.js";
import { NULL_DATE } from "./table.js";
import { formatDatetimeMicro, parseDate, toMicros, US_PER_SEC } from "./time.js";
import { setValue } from "./values.js";

export const FAULT_KINDS = [
  "http429",
  "http502",
  "http503",
  "http504",
  "reset",
  "slow",
  "trickle",
  "huge",
  "deep",
  "poison",
  "echo",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Kinds that last until cleared unless given a count: a server that is slow or serves bad data stays so. */
const LASTING: ReadonlySet<FaultKind> = new Set(["slow", "trickle", "deep", "poison"]);

export interface FaultSpec {
  kind: FaultKind;
  /**
   * How many matching requests get the fault (default 1; slow, trickle, deep and poison: unlimited
   * until cleared).
   */
  count?: number;
  /** slow: delay in ms before answering; trickle: the time over which the answer's bytes are spread. */
  delayMs?: number;
  /** Only requests whose path starts with this (e.g. "/xmlrpc/2/object"). */
  path?: string;
  /** huge: the answer's size in bytes (default 256 MiB), streamed, never held in memory. */
  bytes?: number;
  /** huge: send a Content-Length header (default false: chunked, the size unknown until the end). */
  declareLength?: boolean;
  /** deep: levels of arrays inside arrays in place of the field's value (default 10 000). */
  depth?: number;
  /** deep, poison, huge: only answers about this model (deep, poison: `search_read`, `read`). Default: any. */
  model?: string;
  /** deep, poison: the field whose value is replaced (required; it must be among the fields asked for). */
  field?: string;
  /** deep, poison: only this record (default: every record of the answer). */
  id?: number;
  /**
   * huge: only the answer to this method of `model` (default: the next matching request,
   * whatever it asks).
   */
  method?: string;
  /** poison: the text sent as the field's value, nothing stripped (control characters, NUL). */
  text?: string;
  /** poison: or a number, sent as is (an id or an integer beyond 32 bits, which Odoo would refuse to send). */
  number?: number;
  /** poison: or raw bytes as hex, e.g. `"c328ff"` (not UTF-8). */
  hex?: string;
  /** echo: the status of the page that echoes the request (default 400). */
  status?: number;
}

export type ActiveFault = FaultSpec & { count: number; delayMs: number };

/** What the request-level faults do to one request (`Control.takeFaults`). */
export interface RequestFaults {
  status?: 429 | 502 | 503 | 504;
  reset: boolean;
  delayMs: number;
  /** Spread the answer's bytes over this many ms. */
  trickleMs: number;
  huge?: { bytes: number; declareLength: boolean };
  /** Answer with the request echoed, with this status. */
  echo?: number;
}

export interface Stats {
  total: number;
  byPath: Record<string, number>;
  /** "common.authenticate", "object.execute_kw", "jsonrpc.object.execute_kw", "json2" … */
  byMethod: Record<string, number>;
  /** "account.move.line.search_read" … over every protocol */
  byModelMethod: Record<string, number>;
  byStatus: Record<string, number>;
  faultsInjected: Record<string, number>;
  /** Requests in flight, busy workers and the line for them, with their peaks (see performance.ts). */
  concurrency: Concurrency;
  /**
   * How late this process's event loop ran since the stats were last reset, ms: every request is
   * read, built and sent on this one thread, so a busy simulator answers late by this much (a real
   * Odoo's workers are processes of their own). Sampled from the first reset on.
   */
  eventLoopDelay?: { meanMs: number; p99Ms: number; maxMs: number };
}

/** The event loop's delay, one histogram per process (it is the process's loop), started on demand. */
let loopDelay: IntervalHistogram | undefined;

export const emptyStats = (): Stats => ({
  total: 0,
  byPath: {},
  byMethod: {},
  byModelMethod: {},
  byStatus: {},
  faultsInjected: {},
  concurrency: emptyConcurrency(),
});

export const bump = (rec: Record<string, number>, key: string) => {
  rec[key] = (rec[key] ?? 0) + 1;
};

export interface WriteOptions {
  /** Transaction start time (the write_date written); defaults to the clock's now. */
  at?: Date | string | number;
}

export interface TxResult {
  /** write_date given to every touched record, with microseconds. */
  writeDate: string;
  ids: number[];
}

export interface PayOptions extends WriteOptions {
  /** Payment date (YYYY-MM-DD); default the transaction's day. */
  date?: string;
  /** In the invoice's currency; default everything still due. */
  amount?: number;
}

export interface CreateMoveSpec {
  move_type?: "out_invoice" | "in_invoice" | "out_refund" | "in_refund" | "entry";
  company_id?: number;
  partner_id?: number | false;
  state?: "draft" | "posted" | "cancel";
  date?: string;
  ref?: string | false;
  /** Positive amounts in company currency; one counterpart line balances the move. Default [100]. */
  amounts?: number[];
}

/**
 * Realistic changes and fault injection, shared by `sim.control` and `POST /__sim/...`.
 * Every change is one "transaction": all touched records get the same write_date (its start
 * time, with microseconds), which may be set in the past to model a late commit.
 */
export class Control {
  faults: ActiveFault[] = [];
  stats: Stats = emptyStats();
  /** What answers cost and how many are served at once (see performance.ts). */
  performance: Performance = { ...DEFAULT_PERFORMANCE };
  readonly workers = new WorkerPool(
    () => this.performance,
    () => this.stats.concurrency,
  );
  private clock: (() => Date) | null = null;
  private lastTxUs = 0;

  constructor(
    private readonly store: Store,
    private readonly service: OdooService,
  ) {}

  // ---- clock --------------------------------------------------------------------------

  /** A fixed time, a function, or null to go back to the real clock. */
  setClock(now: Date | string | number | (() => Date) | null): void {
    if (now === null) this.clock = null;
    else if (typeof now === "function") this.clock = now;
    else {
      const ms = toMicros(now) / 1000;
      this.clock = () => new Date(ms);
    }
  }

  advanceClock(seconds: number): Date {
    const next = new Date(this.now().getTime() + seconds * 1000);
    this.clock = () => next;
    return next;
  }

  now(): Date {
    return this.clock ? this.clock() : new Date();
  }

  /** Microseconds for a transaction start; distinct transactions at "now" never share a timestamp. */
  private txTime(at?: Date | string | number): number {
    if (at !== undefined) return toMicros(at);
    let us = this.now().getTime() * 1000;
    if (!this.clock) us += Math.floor((performance.now() % 1) * 1000);
    if (us <= this.lastTxUs && !this.clock) us = this.lastTxUs + 1;
    this.lastTxUs = Math.max(this.lastTxUs, us);
    return us;
  }

  // ---- data changes ---------------------------------------------------------------------

  private rowsOf(t: Table, ids: number[]): number[] {
    return ids.map((id) => {
      const r = t.rowOf(id);
      if (r < 0) throw new Error(`${t.def.name} ${id} does not exist`);
      return r;
    });
  }

  private stamp(t: Table, rows: number[], us: number, created = false): void {
    const wd = t.f64("write_date");
    const wu = t.i32("write_uid");
    for (const r of rows) {
      wd[r] = us;
      wu[r] = this.store.uid;
      if (created) {
        t.f64("create_date")[r] = us;
        t.i32("create_uid")[r] = this.store.uid;
      }
    }
    t.touch();
    t.patchWriteDateIndex(rows);
  }

  private apply(t: Table, row: number, values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) {
      const f = t.def.byName.get(k);
      if (!f) throw new Error(`${t.def.name} has no field ${k}`);
      if (f.name === "id" || f.name === "write_date" || f.name === "create_date") {
        throw new Error(`${k} cannot be written`);
      }
      if (f.compute || f.type === "one2many") throw new Error(`${t.def.name}.${k} is computed`);
      setValue(t, f, row, v);
    }
  }

  /** `write` on records: sets values and bumps write_date to the transaction time. */
  update(model: string, ids: number[], values: Record<string, unknown>, opts: WriteOptions = {}): TxResult {
    const t = this.store.table(model);
    const rows = this.rowsOf(t, ids);
    for (const r of rows) {
      this.apply(t, r, values);
      this.related(t, r, values);
    }
    const us = this.txTime(opts.at);
    this.stamp(t, rows, us);
    // like stored related fields: a move's state/name/ref flow to its lines
    if (model === "account.move") this.syncLines(rows, values, us);
    return { writeDate: formatDatetimeMicro(us), ids };
  }

  /** Stored related fields of the record itself: a partner's country_code follows its country_id. */
  private related(t: Table, row: number, values: Record<string, unknown>): void {
    if (t.def.name === "res.partner" && "country_id" in values) {
      const countries = this.store.table("res.country");
      const c = countries.rowOf(t.i32("country_id")[row]!);
      t.ref("country_code")[row] = c >= 0 ? countries.ref("code")[c] : undefined;
    }
  }

  private syncLines(moveRows: number[], values: Record<string, unknown>, us: number): void {
    const related: Record<string, string> = {
      state: "parent_state",
      name: "move_name",
      ref: "ref",
      date: "date",
    };
    const lineValues: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) if (related[k]) lineValues[related[k]] = v;
    if (Object.keys(lineValues).length === 0) return;
    const lines = this.store.table("account.move.line");
    const moves = this.store.table("account.move");
    const ids = new Set(moveRows.map((r) => moves.ids[r]!));
    const moveCol = lines.i32("move_id");
    const rows: number[] = [];
    for (let r = 0; r < lines.size; r++) if (lines.alive[r] && ids.has(moveCol[r]!)) rows.push(r);
    for (const r of rows) this.apply(lines, r, lineValues);
    this.stamp(lines, rows, us);
  }

  /** A late commit: a transaction that started `secondsAgo` seconds ago becomes visible now. */
  lateCommit(model: string, ids: number[], values: Record<string, unknown>, secondsAgo: number): TxResult {
    const at = this.now().getTime() * 1000 - secondsAgo * US_PER_SEC;
    return this.update(model, ids, values, { at: at / 1000 });
  }

  /** Many records written by one transaction: they all share one write_date (same second, same µs). */
  burst(
    model: string,
    ids: number[],
    values: Record<string, unknown> = {},
    opts: WriteOptions = {},
  ): TxResult {
    return this.update(model, ids, values, opts);
  }

  archive(model: string, ids: number[], opts: WriteOptions = {}): TxResult {
    const t = this.store.table(model);
    const field = t.def.activeField ?? (t.def.byName.has("deprecated") ? "deprecated" : null);
    if (!field) throw new Error(`${model} cannot be archived`);
    return this.update(model, ids, { [field]: field === "deprecated" }, opts);
  }

  unarchive(model: string, ids: number[], opts: WriteOptions = {}): TxResult {
    const t = this.store.table(model);
    const field = t.def.activeField ?? "deprecated";
    return this.update(model, ids, { [field]: field !== "deprecated" }, opts);
  }

  /**
   * Hard delete (no trace). Deleting a move deletes its lines; deleting lines deletes the partial
   * reconciliations that touch them and gives the surviving lines their residual back (like an
   * unreconciliation; Odoo itself refuses to delete reconciled lines). Returns the ids removed per model.
   */
  delete(model: string, ids: number[], opts: WriteOptions = {}): Record<string, number[]> {
    const t = this.store.table(model);
    const rows = this.rowsOf(t, ids);
    const removed: Record<string, number[]> = { [model]: [...ids] };
    for (const r of rows) t.remove(r);
    t.touch();
    t.patchWriteDateIndex(rows);
    let lineIds: number[] = [];
    if (model === "account.move.line") lineIds = [...ids];
    if (model === "account.move") {
      const lines = this.store.table("account.move.line");
      const set = new Set(ids);
      const moveCol = lines.i32("move_id");
      const lineRows: number[] = [];
      for (let r = 0; r < lines.size; r++) if (lines.alive[r] && set.has(moveCol[r]!)) lineRows.push(r);
      lineIds = lineRows.map((r) => lines.ids[r]!);
      removed["account.move.line"] = lineIds;
      for (const r of lineRows) lines.remove(r);
      lines.touch();
      lines.patchWriteDateIndex(lineRows);
    }
    if (model === "account.partial.reconcile") this.unreconcile(rows, opts);
    else if (lineIds.length > 0) {
      const gone = new Set(lineIds);
      const partials = this.store.table("account.partial.reconcile");
      const debit = partials.i32("debit_move_id");
      const credit = partials.i32("credit_move_id");
      const touching: number[] = [];
      for (let r = 0; r < partials.size; r++) {
        if (partials.alive[r] && (gone.has(debit[r]!) || gone.has(credit[r]!))) touching.push(r);
      }
      if (touching.length > 0) {
        removed["account.partial.reconcile"] = touching.map((r) => partials.ids[r]!);
        for (const r of touching) partials.remove(r);
        partials.touch();
        partials.patchWriteDateIndex(touching);
        this.unreconcile(touching, opts);
      }
    }
    return removed;
  }

  /**
   * After partials (rows, already removed) are gone: the lines they matched that still exist get
   * their amount back (residual = balance − the partials left), are no longer reconciled, and get a
   * new write_date (stored computed fields). The moves' amount_residual/payment_state are not
   * recomputed.
   */
  private unreconcile(partialRows: number[], opts: WriteOptions): void {
    const partials = this.store.table("account.partial.reconcile");
    const lines = this.store.table("account.move.line");
    const res = lines.f64("amount_residual");
    const resCur = lines.f64("amount_residual_currency");
    const touched: number[] = [];
    for (const p of partialRows) {
      const d = lines.rowOf(partials.i32("debit_move_id")[p]!);
      const c = lines.rowOf(partials.i32("credit_move_id")[p]!);
      if (d >= 0) {
        res[d] = tidy(res[d]! + partials.f64("amount")[p]!);
        resCur[d] = tidy(resCur[d]! + partials.f64("debit_amount_currency")[p]!);
        touched.push(d);
      }
      if (c >= 0) {
        res[c] = tidy(res[c]! - partials.f64("amount")[p]!);
        resCur[c] = tidy(resCur[c]! - partials.f64("credit_amount_currency")[p]!);
        touched.push(c);
      }
    }
    if (touched.length === 0) return;
    for (const r of touched) {
      lines.u8("reconciled")[r] = 0;
      if (lines.cols.has("matching_number")) lines.ref("matching_number")[r] = undefined;
    }
    const us = this.txTime(opts.at);
    // Odoo unlinks the full reconcile of a removed partial: its other items and partials lose it too
    const full = this.refreshFull(
      touched.map((r) => lines.ids[r]!),
      us,
    );
    this.stamp(lines, [...touched, ...full.lines], us);
  }

  /**
   * Re-derives the full reconciles of the given journal items' matching groups (see
   * refreshFullReconciles) in the transaction at `us`; stamps the partials and full reconciles it
   * changed and returns the line rows it changed (for the caller to stamp with its own).
   */
  private refreshFull(lineIds: number[], us: number): { lines: number[] } {
    const changes = refreshFullReconciles(this.store, lineIds, us);
    const partials = this.store.table("account.partial.reconcile");
    const fulls = this.store.table("account.full.reconcile");
    const alive = changes.partials.filter((p) => partials.alive[p]);
    if (alive.length > 0) this.stamp(partials, alive, us);
    if (changes.created.length > 0) this.stamp(fulls, changes.created, us, true);
    if (changes.removed.length > 0) fulls.patchWriteDateIndex(changes.removed);
    return { lines: changes.lines };
  }

  /** `create` of one record with the given values (no defaults beyond empty values). */
  create(model: string, values: Record<string, unknown>, opts: WriteOptions = {}): TxResult {
    const t = this.store.table(model);
    const row = t.append();
    const def = t.def;
    if (def.activeField && !("active" in values)) t.u8("active")[row] = 1;
    this.apply(t, row, values);
    this.related(t, row, values);
    const us = this.txTime(opts.at);
    this.stamp(t, [row], us, true);
    return { writeDate: formatDatetimeMicro(us), ids: [t.ids[row]!] };
  }

  /** Creates a balanced move (company currency) with its lines in one transaction. */
  createMove(spec: CreateMoveSpec = {}, opts: WriteOptions = {}): TxResult & { lineIds: number[] } {
    const us = this.txTime(opts.at);
    const moves = this.store.table("account.move");
    const lines = this.store.table("account.move.line");
    const company = spec.company_id ?? 1;
    const type = spec.move_type ?? "entry";
    const state = spec.state ?? "draft";
    const companyRow = this.store.table("res.company").rowOf(company);
    if (companyRow < 0) throw new Error(`company ${company} does not exist`);
    const currency = this.store.table("res.company").i32("currency_id")[companyRow]!;
    const journals = this.store.table("account.journal");
    const jtype = type === "entry" ? "general" : type.startsWith("out") ? "sale" : "purchase";
    let journal = 0;
    for (let r = 0; r < journals.size; r++) {
      if (
        journals.alive[r] &&
        journals.i32("company_id")[r] === company &&
        journals.ref("type")[r] === jtype
      ) {
        journal = journals.ids[r]!;
        break;
      }
    }
    const accountFor = (types: string[]) => {
      const accounts = this.store.table("account.account");
      for (let r = 0; r < accounts.size; r++) {
        if (!accounts.alive[r] || !types.includes(accounts.ref("account_type")[r] as string)) continue;
        const owner = accounts.cols.has("company_id")
          ? accounts.i32("company_id")[r]
          : (accounts.ref("company_ids")[r] as number[])[0];
        if (owner === company) return accounts.ids[r]!;
      }
      throw new Error(`no ${types.join("/")} account for company ${company}`);
    };
    const sale = type.startsWith("out");
    const main = accountFor(type === "entry" ? ["expense"] : sale ? ["income"] : ["expense"]);
    const counter = accountFor(
      type === "entry" ? ["asset_cash"] : sale ? ["asset_receivable"] : ["liability_payable"],
    );
    const sign = type === "out_invoice" || type === "in_refund" ? -1 : 1;
    const amounts = (spec.amounts ?? [100]).map((a) => Math.round(a * 100));
    const total = amounts.reduce((s, a) => s + a, 0);
    const dateStr = spec.date ?? formatDatetimeMicro(us).slice(0, 10);
    const moveCount = moves.live;
    const name =
      state === "draft"
        ? "/"
        : `${type === "entry" ? "MISC" : sale ? "INV" : "BILL"}/SIM/${String(moveCount + 1).padStart(5, "0")}`;
    const row = moves.append();
    const id = moves.ids[row]!;
    this.apply(moves, row, {
      name,
      ref: spec.ref ?? false,
      date: dateStr,
      state,
      move_type: type,
      journal_id: journal,
      company_id: company,
      currency_id: currency,
      company_currency_id: currency,
      partner_id: spec.partner_id ?? false,
      commercial_partner_id: spec.partner_id ?? false,
      invoice_date: type === "entry" ? false : dateStr,
      invoice_date_due: type === "entry" ? false : dateStr,
      payment_state: "not_paid",
      amount_untaxed: total / 100,
      amount_tax: 0,
      amount_total: total / 100,
      amount_residual: type === "entry" ? 0 : total / 100,
      amount_untaxed_signed: (type === "entry" ? 1 : -sign) * (total / 100),
      amount_total_signed: (type === "entry" ? 1 : -sign) * (total / 100),
      amount_residual_signed: type === "entry" ? 0 : -sign * (total / 100),
    });
    this.stamp(moves, [row], us, true);
    const lineRows = this.writeLines(id, [
      ...amounts.map((a) => ({ account: main, cents: sign * a, type: "product", label: "Simulated line" })),
      {
        account: counter,
        cents: -sign * total,
        type: type === "entry" ? "product" : "payment_term",
        label: name,
      },
    ]);
    this.stamp(lines, lineRows, us, true);
    return { writeDate: formatDatetimeMicro(us), ids: [id], lineIds: lineRows.map((r) => lines.ids[r]!) };
  }

  private writeLines(
    moveId: number,
    specs: {
      account: number;
      cents: number;
      type: string;
      label: string;
      /** Amount in the move's currency, in its minor units (default: the company amount). */
      minor?: number;
      scale?: number;
    }[],
  ): number[] {
    const moves = this.store.table("account.move");
    const lines = this.store.table("account.move.line");
    const m = moves.rowOf(moveId);
    const rows: number[] = [];
    for (const s of specs) {
      const r = lines.append();
      const bal = s.cents / 100;
      const amountCurrency = s.minor !== undefined ? s.minor / (s.scale ?? 100) : bal;
      this.apply(lines, r, {
        move_id: moveId,
        move_name: moves.ref("name")[m] ?? false,
        ref: moves.ref("ref")[m] ?? false,
        parent_state: moves.ref("state")[m],
        journal_id: moves.i32("journal_id")[m],
        company_id: moves.i32("company_id")[m],
        company_currency_id: moves.i32("company_currency_id")[m],
        currency_id: moves.i32("currency_id")[m],
        partner_id: moves.i32("partner_id")[m] || false,
        account_id: s.account,
        name: s.label,
        display_type: s.type,
        debit: Math.max(bal, 0),
        credit: bal < 0 ? -bal : 0,
        balance: bal,
        amount_currency: amountCurrency,
        quantity: 1,
        price_unit: Math.abs(bal),
        price_subtotal: Math.abs(bal),
        price_total: Math.abs(bal),
        tax_ids: [],
        amount_residual: s.type === "payment_term" ? bal : 0,
        amount_residual_currency: s.type === "payment_term" ? amountCurrency : 0,
        reconciled: false,
      });
      lines.i32("date")[r] = moves.i32("date")[m]!;
      rows.push(r);
    }
    return rows;
  }

  /**
   * Editing a draft move: Odoo deletes its lines and creates new ones (new ids). The move's
   * write_date is bumped; the old line ids vanish without trace.
   */
  regenerateLines(
    moveId: number,
    opts: WriteOptions = {},
  ): TxResult & { removed: number[]; added: number[] } {
    const moves = this.store.table("account.move");
    const lines = this.store.table("account.move.line");
    const m = moves.rowOf(moveId);
    if (m < 0) throw new Error(`account.move ${moveId} does not exist`);
    if (moves.ref("state")[m] !== "draft") throw new Error(`account.move ${moveId} is not a draft`);
    const moveCol = lines.i32("move_id");
    const old: number[] = [];
    for (let r = 0; r < lines.size; r++) if (lines.alive[r] && moveCol[r] === moveId) old.push(r);
    const specs = old.map((r) => ({
      account: lines.i32("account_id")[r]!,
      cents: Math.round(lines.f64("balance")[r]! * 100),
      type: (lines.ref("display_type")[r] as string | undefined) ?? "product",
      label: (lines.ref("name")[r] as string | undefined) ?? "Edited line",
    }));
    const removed = old.map((r) => lines.ids[r]!);
    for (const r of old) lines.remove(r);
    const us = this.txTime(opts.at);
    const added = this.writeLines(moveId, specs);
    this.stamp(lines, [...old, ...added], us, true);
    this.stamp(moves, [m], us);
    return {
      writeDate: formatDatetimeMicro(us),
      ids: [moveId],
      removed,
      added: added.map((r) => lines.ids[r]!),
    };
  }

  /**
   * Registers a payment of a posted invoice in one transaction, as Odoo's "Register Payment" does:
   * an account.payment with its journal entry (outstanding account / receivable or payable) dated
   * `date` (default: the transaction's day), and one account.partial.reconcile per open
   * payment-term line it settles (max_date = the later of the two lines' dates). `amount` (in the
   * invoice's currency, default everything still due) settles the term lines in order; the invoice
   * becomes `paid`, or `partial` while something is left.
   */
  payInvoice(moveId: number, opts: PayOptions = {}): TxResult & { paymentId?: number; partialIds: number[] } {
    const store = this.store;
    const moves = store.table("account.move");
    const m = moves.rowOf(moveId);
    if (m < 0) throw new Error(`account.move ${moveId} does not exist`);
    if (moves.ref("state")[m] !== "posted") throw new Error(`account.move ${moveId} is not posted`);
    const us = this.txTime(opts.at);
    const payDate = opts.date ?? formatDatetimeMicro(us).slice(0, 10);
    const payDay = parseDate(payDate);
    if (payDay === null) throw new Error(`invalid payment date ${payDate}`);
    const lines = store.table("account.move.line");
    const moveCol = lines.i32("move_id");
    const residual = lines.f64("amount_residual");
    const residualCurrency = lines.f64("amount_residual_currency");
    const open: number[] = [];
    for (let r = 0; r < lines.size; r++) {
      if (!lines.alive[r] || moveCol[r] !== moveId || lines.ref("display_type")[r] !== "payment_term")
        continue;
      if (residual[r] !== 0 || residualCurrency[r] !== 0) open.push(r);
    }
    const company = moves.i32("company_id")[m]!;
    const currency = moves.i32("currency_id")[m]!;
    const partner = moves.i32("partner_id")[m]!;
    const invoiceName = (moves.ref("name")[m] as string | undefined) ?? "/";
    const currencies = store.table("res.currency");
    const rounding = currencies.f64("rounding")[currencies.rowOf(currency)] ?? 0.01;
    const scale = rounding >= 1 ? 1 : 10 ** Math.round(Math.log10(1 / rounding));
    const minorOf = (r: number) => Math.round(residualCurrency[r]! * scale);
    const centsOf = (r: number) => Math.round(residual[r]! * 100);

    // what the payment settles on each open term line, in order, up to `amount`
    let left = opts.amount === undefined ? Number.POSITIVE_INFINITY : Math.round(opts.amount * scale);
    if (!(left > 0)) throw new Error(`payment amount must be positive, got ${opts.amount}`);
    const settled: { row: number; minor: number; cents: number }[] = [];
    for (const r of open) {
      if (left <= 0) break;
      const due = minorOf(r);
      const take = Math.min(Math.abs(due), left);
      left -= take;
      const minor = Math.sign(due) * take;
      const cents = take === Math.abs(due) ? centsOf(r) : Math.round((centsOf(r) * minor) / due);
      settled.push({ row: r, minor, cents });
    }
    const touchedLines = settled.map((x) => x.row);
    const partialIds: number[] = [];
    let paymentId: number | undefined;
    if (settled.length > 0) {
      const cents = settled.reduce((a, x) => a + x.cents, 0);
      const minor = settled.reduce((a, x) => a + x.minor, 0);
      const inbound = cents > 0;
      const sale = String(moves.ref("move_type")[m]).startsWith("out");
      const journals = store.table("account.journal");
      let bank = 0;
      for (let r = 0; r < journals.size; r++) {
        if (
          journals.alive[r] &&
          journals.i32("company_id")[r] === company &&
          journals.ref("type")[r] === "bank"
        ) {
          bank = journals.ids[r]!;
          break;
        }
      }
      const counterpart = lines.i32("account_id")[settled[0]!.row]!;
      const outstanding =
        this.accountByCode(company, inbound ? "101402" : "101403") ||
        journals.i32("default_account_id")[journals.rowOf(bank)]!;
      const v18 = store.version >= 18;
      const name = `${v18 ? "PBNK1" : "BNK1"}/SIM/${String(moves.live + 1).padStart(5, "0")}`;

      const payments = store.table("account.payment");
      const payRow = payments.append();
      paymentId = payments.ids[payRow]!;
      const pmRow = moves.append();
      const pmove = moves.ids[pmRow]!;
      const total = Math.abs(minor) / scale;
      this.apply(payments, payRow, {
        name,
        date: payDate,
        amount: total,
        payment_type: inbound ? "inbound" : "outbound",
        partner_type: sale ? "customer" : "supplier",
        partner_id: partner || false,
        journal_id: bank,
        company_id: company,
        currency_id: currency,
        state: v18 ? "paid" : "posted",
        move_id: pmove,
        [v18 ? "memo" : "ref"]: invoiceName,
        destination_account_id: counterpart,
        is_reconciled: true,
        is_matched: false,
      });
      this.stamp(payments, [payRow], us, true);
      this.apply(moves, pmRow, {
        name,
        ref: invoiceName,
        date: payDate,
        state: "posted",
        move_type: "entry",
        journal_id: bank,
        company_id: company,
        currency_id: currency,
        company_currency_id: moves.i32("company_currency_id")[m]!,
        partner_id: partner || false,
        commercial_partner_id: moves.i32("commercial_partner_id")[m]! || false,
        payment_state: "not_paid",
        amount_untaxed: total,
        amount_total: total,
        amount_untaxed_signed: Math.abs(cents) / 100,
        amount_total_signed: Math.abs(cents) / 100,
        [v18 ? "origin_payment_id" : "payment_id"]: paymentId,
      });
      this.stamp(moves, [pmRow], us, true);
      const label = `Payment ${invoiceName}`;
      const [outRow, payLineRow] = this.writeLines(pmove, [
        { account: outstanding, cents, type: "product", label, minor, scale },
        { account: counterpart, cents: -cents, type: "payment_term", label, minor: -minor, scale },
      ]) as [number, number];
      const payLine = lines.ids[payLineRow]!;
      if (lines.cols.has("payment_id")) {
        lines.i32("payment_id")[outRow] = paymentId;
        lines.i32("payment_id")[payLineRow] = paymentId;
      }
      for (const r of [outRow, payLineRow]) {
        residual[r] = 0;
        residualCurrency[r] = 0;
      }
      lines.u8("reconciled")[payLineRow] = 1;
      touchedLines.push(outRow, payLineRow);

      const partials = store.table("account.partial.reconcile");
      const created: number[] = [];
      for (const x of settled) {
        const debitSide = x.cents > 0 || (x.cents === 0 && x.minor > 0);
        const p = partials.append();
        this.apply(partials, p, {
          debit_move_id: debitSide ? lines.ids[x.row]! : payLine,
          credit_move_id: debitSide ? payLine : lines.ids[x.row]!,
          debit_currency_id: currency,
          credit_currency_id: currency,
          amount: Math.abs(x.cents) / 100,
          debit_amount_currency: Math.abs(x.minor) / scale,
          credit_amount_currency: Math.abs(x.minor) / scale,
          company_id: company,
        });
        partials.i32("max_date")[p] = Math.max(lines.i32("date")[x.row]!, payDay);
        created.push(p);
        partialIds.push(partials.ids[p]!);
        residual[x.row] = (centsOf(x.row) - x.cents) / 100;
        residualCurrency[x.row] = (minorOf(x.row) - x.minor) / scale;
        lines.u8("reconciled")[x.row] = residual[x.row] === 0 && residualCurrency[x.row] === 0 ? 1 : 0;
      }
      this.stamp(partials, created, us, true);
    }
    // the invoice's stored totals follow its term lines
    let dueMinor = 0;
    let dueCents = 0;
    for (let r = 0; r < lines.size; r++) {
      if (!lines.alive[r] || moveCol[r] !== moveId || lines.ref("display_type")[r] !== "payment_term")
        continue;
      dueMinor += minorOf(r);
      dueCents += centsOf(r);
    }
    const signed =
      Math.sign(moves.f64("amount_residual_signed")[m]! || moves.f64("amount_total_signed")[m]!) || 1;
    moves.f64("amount_residual")[m] = Math.abs(dueMinor) / scale;
    moves.f64("amount_residual_signed")[m] = (signed * Math.abs(dueCents)) / 100;
    moves.ref("payment_state")[m] = dueMinor === 0 && dueCents === 0 ? "paid" : "partial";
    // a settled matching group gets its full reconcile (items of earlier payments included)
    const full = this.refreshFull(
      touchedLines.map((r) => lines.ids[r]!),
      us,
    );
    const fullLines = full.lines.filter((r) => lines.i32("full_reconcile_id")[r] !== 0);
    if (lines.cols.has("matching_number")) {
      const matching = dueMinor === 0 && dueCents === 0 ? `A${moveId}` : `P${moveId}`;
      for (const r of touchedLines)
        if (lines.ref("display_type")[r] === "payment_term") lines.ref("matching_number")[r] = matching;
      // every item of one full reconcile shows the same matching number
      for (const r of fullLines) lines.ref("matching_number")[r] = matching;
    }
    this.stamp(moves, [m], us);
    const stampLines = [...touchedLines, ...full.lines];
    if (stampLines.length > 0) this.stamp(lines, stampLines, us);
    return {
      writeDate: formatDatetimeMicro(us),
      ids: [moveId],
      ...(paymentId !== undefined ? { paymentId } : {}),
      partialIds,
    };
  }

  /** An account of a company by code (per company on 18+), 0 if none. */
  private accountByCode(company: number, code: string): number {
    const accounts = this.store.table("account.account");
    for (let r = 0; r < accounts.size; r++) {
      if (!accounts.alive[r]) continue;
      const own = accounts.cols.has("company_id")
        ? accounts.i32("company_id")[r] === company && accounts.ref("code")[r] === code
        : (accounts.ref("code_store")[r] as Record<number, string> | undefined)?.[company] === code;
      if (own) return accounts.ids[r]!;
    }
    return 0;
  }

  // ---- performance ----------------------------------------------------------------------

  /** Sets the latency, workers and queue limit (the fields given); returns the whole setting. */
  setPerformance(patch: Partial<Record<keyof Performance, unknown>>): Performance {
    this.performance = mergePerformance(this.performance, patch);
    this.workers.pump(); // added workers take the requests in line at once
    return { ...this.performance };
  }

  getPerformance(): Performance {
    return { ...this.performance };
  }

  // ---- faults ---------------------------------------------------------------------------

  injectFault(spec: FaultSpec): ActiveFault {
    if (!FAULT_KINDS.includes(spec.kind))
      throw new Error(`unknown fault kind ${JSON.stringify(spec.kind)}: one of ${FAULT_KINDS.join(", ")}`);
    if ((spec.kind === "deep" || spec.kind === "poison") && !spec.field)
      throw new Error(`a ${spec.kind} fault needs the field whose value it replaces ("field")`);
    if (
      spec.kind === "poison" &&
      spec.text === undefined &&
      spec.hex === undefined &&
      spec.number === undefined
    )
      throw new Error('a poison fault needs the value it sends: "text", "hex" or "number"');
    if (spec.hex !== undefined && !/^([0-9a-f]{2})*$/i.test(spec.hex))
      throw new Error(`hex must be pairs of hexadecimal digits, got ${JSON.stringify(spec.hex)}`);
    const fault: ActiveFault = {
      ...spec,
      count: spec.count ?? (LASTING.has(spec.kind) ? Number.POSITIVE_INFINITY : 1),
      delayMs: spec.delayMs ?? (spec.kind === "slow" || spec.kind === "trickle" ? 1000 : 0),
    };
    this.faults.push(fault);
    return fault;
  }

  /** authenticate answers False, even for good credentials, for this many seconds. */
  lockout(seconds: number): void {
    this.service.lockedUntil = Date.now() + seconds * 1000;
  }

  clearFaults(): void {
    this.faults = [];
    this.service.resetLogin();
  }

  /** The request-level faults that apply to a request (consumes their counts). */
  takeFaults(path: string): RequestFaults {
    const out: RequestFaults = { reset: false, delayMs: 0, trickleMs: 0 };
    const answered = () =>
      out.reset || out.status !== undefined || out.huge !== undefined || out.echo !== undefined;
    for (const f of this.faults) {
      if (f.count <= 0 || (f.path && !path.startsWith(f.path))) continue;
      switch (f.kind) {
        case "deep":
        case "poison":
          continue; // applied to the records of an answer (rewriteRecords)
        case "slow":
          out.delayMs = Math.max(out.delayMs, f.delayMs);
          break;
        case "trickle":
          out.trickleMs = Math.max(out.trickleMs, f.delayMs);
          break;
        case "reset":
          if (answered()) continue;
          out.reset = true;
          break;
        case "huge":
          // one about a model waits for the request's model to be known (takeHuge)
          if (answered() || f.model !== undefined || f.method !== undefined) continue;
          out.huge = { bytes: f.bytes ?? 256 * 1024 * 1024, declareLength: f.declareLength === true };
          break;
        case "echo":
          if (answered()) continue;
          out.echo = f.status ?? 400;
          break;
        default:
          if (answered()) continue;
          out.status = ({ http429: 429, http502: 502, http503: 503, http504: 504 } as const)[f.kind];
      }
      f.count--;
      bump(this.stats.faultsInjected, f.kind);
    }
    this.faults = this.faults.filter((f) => f.count > 0);
    return out;
  }

  /** A `huge` fault about this model (and method), consumed: the answer to send instead of the real one. */
  takeHuge(path: string, model: unknown, method: unknown): RequestFaults["huge"] {
    const f = this.faults.find(
      (x) =>
        x.kind === "huge" &&
        x.count > 0 &&
        (x.model !== undefined || x.method !== undefined) &&
        (!x.path || path.startsWith(x.path)) &&
        (x.model === undefined || x.model === model) &&
        (x.method === undefined || x.method === method),
    );
    if (!f) return undefined;
    f.count--;
    bump(this.stats.faultsInjected, f.kind);
    this.faults = this.faults.filter((x) => x.count > 0);
    return { bytes: f.bytes ?? 256 * 1024 * 1024, declareLength: f.declareLength === true };
  }

  /**
   * The records of a `search_read` or `read` answer with the `deep` and `poison` faults applied:
   * the named field of the matching records replaced by a raw value (a copy of each record changed;
   * the store is untouched). Each fault that changed a record counts one answer.
   */
  rewriteRecords(path: string, model: unknown, method: unknown, result: PyValue): PyValue {
    if ((method !== "search_read" && method !== "read") || !Array.isArray(result)) return result;
    const faults = this.faults.filter(
      (f) =>
        (f.kind === "deep" || f.kind === "poison") &&
        f.count > 0 &&
        (!f.path || path.startsWith(f.path)) &&
        (f.model === undefined || f.model === model),
    );
    if (faults.length === 0) return result;
    let out = result;
    for (const f of faults) {
      const field = f.field as string;
      let raw: RawValue | undefined;
      let hit = false;
      out = out.map((record) => {
        if (record === null || typeof record !== "object" || Array.isArray(record) || record instanceof Map)
          return record;
        const r = record as Record<string, PyValue>;
        if (!(field in r) || (f.id !== undefined && r.id !== f.id)) return record;
        raw ??= f.kind === "deep" ? deepValue(f.depth ?? 10_000) : poisonValue(f);
        hit = true;
        return { ...r, [field]: raw as unknown as PyValue };
      });
      if (hit) {
        f.count--;
        bump(this.stats.faultsInjected, f.kind);
      }
    }
    this.faults = this.faults.filter((f) => f.count > 0);
    return out;
  }

  getStats(): Stats {
    const stats = structuredClone(this.stats);
    if (loopDelay && loopDelay.count > 0) {
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      stats.eventLoopDelay = {
        meanMs: ms(loopDelay.mean),
        p99Ms: ms(loopDelay.percentile(99)),
        maxMs: ms(loopDelay.max),
      };
    }
    return stats;
  }

  /** Counts from zero again; the requests now in flight stay counted (peaks restart from them). */
  resetStats(): void {
    if (!loopDelay) {
      loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
    }
    loopDelay.reset();
    const { inFlight, busy, queued } = this.stats.concurrency;
    this.stats = emptyStats();
    Object.assign(this.stats.concurrency, {
      inFlight,
      peakInFlight: inFlight,
      busy,
      peakBusy: busy,
      queued,
      peakQueued: queued,
    });
  }

  /** Record counts per model (live rows, archived included). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, t] of this.store.tables) out[name] = t.live;
    return out;
  }
}

/** Drops binary noise from sums of decimal amounts (0.1 + 0.2 → 0.3). */
const tidy = (x: number) => Math.round(x * 1e6) / 1e6;

export { NULL_DATE };
