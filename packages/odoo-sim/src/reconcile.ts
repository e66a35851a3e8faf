import type { Store } from "./store.js";

/** Rows whose stored values a full-reconcile refresh changed (for write_date stamps). */
export interface FullReconcileChanges {
  lines: number[];
  partials: number[];
  /** account.full.reconcile rows created. */
  created: number[];
  /** account.full.reconcile rows removed. */
  removed: number[];
}

/**
 * account.full.reconcile, derived from the partial reconciliations: the journal items connected
 * through account.partial.reconcile form one matching group; once every item of a group is settled
 * (amount_residual and amount_residual_currency 0, on an account that allows reconciliation), the
 * group gets one full reconcile, set as `full_reconcile_id` on its items and on its partials. This
 * is what Odoo's `_create_full_reconcile` does after each reconciliation.
 *
 * `seedLines` null: the whole database, after generation. Nothing but the full reconciles and the
 * `full_reconcile_id` columns is written (no RNG, no write_date change: the generated data stays
 * as it is); each full reconcile is created by the transaction of its group's latest partial, ids
 * in that order.
 *
 * `seedLines` given (control API): only the groups of those journal items are re-derived, in the
 * transaction at `us`. A full reconcile whose group is still the same and still settled is kept;
 * otherwise it is deleted (Odoo unlinks it with any of its partials) and, if the group is settled,
 * a new one is created. On 17+ the items that lose their full reconcile get the partial matching
 * number Odoo gives them ("P" + the smallest partial id), or none without partials.
 * Limit: only payInvoice and deletions call it; a plain control `update` of residuals, or of
 * full_reconcile_id itself, is written as given and not re-derived.
 */
export function refreshFullReconciles(
  store: Store,
  seedLines: Iterable<number> | null,
  us = 0,
): FullReconcileChanges {
  const lines = store.table("account.move.line");
  const partials = store.table("account.partial.reconcile");
  const fulls = store.table("account.full.reconcile");
  const accounts = store.table("account.account");
  const lineFull = lines.i32("full_reconcile_id");
  const partialFull = partials.i32("full_reconcile_id");
  const debitCol = partials.i32("debit_move_id");
  const creditCol = partials.i32("credit_move_id");
  const residual = lines.f64("amount_residual");
  const residualCurrency = lines.f64("amount_residual_currency");
  const account = lines.i32("account_id");
  const reconcilable = accounts.u8("reconcile");
  const changes: FullReconcileChanges = { lines: [], partials: [], created: [], removed: [] };

  // line row -> partial rows touching it (alive partials between alive lines)
  const byLine = new Map<number, number[]>();
  const link = (lineRow: number, p: number) => {
    const list = byLine.get(lineRow);
    if (list) list.push(p);
    else byLine.set(lineRow, [p]);
  };
  for (let p = 0; p < partials.size; p++) {
    if (!partials.alive[p]) continue;
    const d = lines.rowOf(debitCol[p]!);
    const c = lines.rowOf(creditCol[p]!);
    if (d >= 0) link(d, p);
    if (c >= 0) link(c, p);
  }

  // the matching groups to (re)derive: connected components over partials
  const seen = new Set<number>();
  const groups: { lines: number[]; partials: number[] }[] = [];
  const collect = (start: number) => {
    if (seen.has(start) || !byLine.has(start)) return;
    const group = { lines: [] as number[], partials: [] as number[] };
    const seenPartials = new Set<number>();
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const r = stack.pop()!;
      group.lines.push(r);
      for (const p of byLine.get(r) ?? []) {
        if (seenPartials.has(p)) continue;
        seenPartials.add(p);
        group.partials.push(p);
        for (const other of [lines.rowOf(debitCol[p]!), lines.rowOf(creditCol[p]!)]) {
          if (other >= 0 && !seen.has(other)) {
            seen.add(other);
            stack.push(other);
          }
        }
      }
    }
    group.lines.sort((a, b) => a - b);
    group.partials.sort((a, b) => a - b);
    groups.push(group);
  };
  const oldFulls = new Set<number>();
  if (seedLines === null) {
    for (const r of byLine.keys()) collect(r);
  } else {
    for (const id of seedLines) {
      const r = lines.rowOf(id);
      if (r < 0) continue;
      if (lineFull[r]) oldFulls.add(lineFull[r]!);
      collect(r);
    }
  }

  const settled = (g: { lines: number[] }) =>
    g.lines.every((r) => {
      if (residual[r] !== 0 || residualCurrency[r] !== 0) return false;
      const a = accounts.rowOf(account[r]!);
      return a >= 0 && reconcilable[a] === 1;
    });

  // keep the full reconciles that still describe a settled group exactly
  const keep = new Set<number>();
  const toCreate: { lines: number[]; partials: number[] }[] = [];
  for (const g of groups) {
    const ids = new Set<number>();
    for (const r of g.lines) ids.add(lineFull[r]!);
    for (const p of g.partials) ids.add(partialFull[p]!);
    for (const id of ids) if (id) oldFulls.add(id);
    if (!settled(g)) continue;
    const [only] = ids;
    if (ids.size === 1 && only && fulls.rowOf(only) >= 0) keep.add(only);
    else toCreate.push(g);
  }

  // drop the others (and every reference to them)
  const drop = new Set([...oldFulls].filter((id) => !keep.has(id) && fulls.rowOf(id) >= 0));
  const lostFull: number[] = [];
  if (drop.size > 0) {
    for (const id of drop) {
      const r = fulls.rowOf(id);
      fulls.remove(r);
      changes.removed.push(r);
    }
    for (let r = 0; r < lines.size; r++) {
      if (lineFull[r] && drop.has(lineFull[r]!)) {
        lineFull[r] = 0;
        if (lines.alive[r]) {
          changes.lines.push(r);
          lostFull.push(r);
        }
      }
    }
    for (let p = 0; p < partials.size; p++) {
      if (partialFull[p] && drop.has(partialFull[p]!)) {
        partialFull[p] = 0;
        if (partials.alive[p]) changes.partials.push(p);
      }
    }
  }
  if (lostFull.length > 0 && lines.cols.has("matching_number")) {
    const matching = lines.ref("matching_number");
    for (const r of lostFull) {
      const ps = byLine.get(r);
      matching[r] = ps ? `P${Math.min(...ps.map((p) => partials.ids[p]!))}` : undefined;
    }
  }

  // create the new ones, in the order of the transactions that settled their groups
  const created = partials.f64("create_date");
  const settledAt = (g: { partials: number[] }) => {
    let t = Number.NEGATIVE_INFINITY;
    for (const p of g.partials) if (created[p]! > t) t = created[p]!;
    return t;
  };
  const lastPartial = (g: { partials: number[] }) => g.partials[g.partials.length - 1]!;
  const ordered =
    seedLines === null
      ? toCreate
          .map((g) => ({ g, at: settledAt(g), last: lastPartial(g) }))
          .sort((a, b) => a.at - b.at || a.last - b.last)
      : toCreate.map((g) => ({ g, at: us, last: lastPartial(g) }));
  if (ordered.length > 0) fulls.reserve(ordered.length);
  for (const { g, at } of ordered) {
    const r = fulls.append();
    const id = fulls.ids[r]!;
    if (fulls.cols.has("name")) fulls.ref("name")[r] = `A${id}`;
    fulls.i32("create_uid")[r] = store.uid;
    fulls.i32("write_uid")[r] = store.uid;
    fulls.f64("create_date")[r] = at;
    fulls.f64("write_date")[r] = at;
    changes.created.push(r);
    for (const l of g.lines) {
      lineFull[l] = id;
      changes.lines.push(l);
    }
    for (const p of g.partials) {
      partialFull[p] = id;
      changes.partials.push(p);
    }
  }
  if (changes.created.length > 0 || changes.removed.length > 0) fulls.touch();
  if (changes.lines.length > 0) lines.touch();
  if (changes.partials.length > 0) partials.touch();
  return changes;
}
