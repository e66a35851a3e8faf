import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildStore, type OdooSim, startOdooSim } from "../src/index.js";
import { kw } from "./helpers.js";

let sim: OdooSim;
beforeAll(async () => {
  sim = await startOdooSim({ version: 17, scale: 0.3, seed: 11 });
});
afterAll(() => sim.close());

type Line = {
  move_id: number;
  debit: number;
  credit: number;
  balance: number;
  amount_currency: number;
  currency_id: number;
  company_currency_id: number;
};

describe("generated finance data", () => {
  it("scales linearly: scale 0.3 ≈ 3 000 journal items", () => {
    const n = sim.store.count("account.move.line");
    expect(n).toBeGreaterThanOrEqual(3000);
    expect(n).toBeLessThan(3100);
  });

  it("balances every move to zero with consistent debit, credit and balance", async () => {
    const lines = (await kw(sim.url, "account.move.line", "search_read", [[]], {
      fields: [
        "move_id",
        "debit",
        "credit",
        "balance",
        "amount_currency",
        "currency_id",
        "company_currency_id",
      ],
      load: "",
      context: { active_test: false },
    })) as Line[];
    expect(lines.length).toBe(sim.store.count("account.move.line"));
    const cents = new Map<number, number>();
    const docMinor = new Map<number, number>();
    for (const l of lines) {
      expect(l.debit).toBeGreaterThanOrEqual(0);
      expect(l.credit).toBeGreaterThanOrEqual(0);
      expect(l.debit === 0 || l.credit === 0).toBe(true);
      expect(Math.round((l.debit - l.credit) * 100)).toBe(Math.round(l.balance * 100));
      cents.set(l.move_id, (cents.get(l.move_id) ?? 0) + Math.round(l.balance * 100));
      docMinor.set(l.move_id, (docMinor.get(l.move_id) ?? 0) + Math.round(l.amount_currency * 1000));
    }
    expect(cents.size).toBe(sim.store.count("account.move"));
    for (const [move, sum] of cents) expect([move, sum]).toEqual([move, 0]);
    for (const [move, sum] of docMinor) expect([move, sum]).toEqual([move, 0]);
  });

  it("has the move types, states and payment states a sync must handle", async () => {
    const moves = (await kw(sim.url, "account.move", "search_read", [[]], {
      fields: ["move_type", "state", "payment_state", "amount_total", "amount_residual", "name"],
    })) as {
      move_type: string;
      state: string;
      payment_state: string;
      amount_total: number;
      amount_residual: number;
      name: string;
    }[];
    const types = new Set(moves.map((m) => m.move_type));
    for (const t of ["out_invoice", "out_refund", "in_invoice", "in_refund", "entry"])
      expect(types).toContain(t);
    expect(new Set(moves.map((m) => m.state))).toEqual(new Set(["draft", "posted", "cancel"]));
    const ps = new Set(moves.map((m) => m.payment_state));
    for (const s of ["not_paid", "paid", "partial", "in_payment"]) expect(ps).toContain(s);
    expect(ps.has("blocked")).toBe(false); // 18+ only
    for (const m of moves) {
      if (m.payment_state === "paid") expect(m.amount_residual).toBe(0);
      if (m.payment_state === "partial") {
        expect(m.amount_residual).toBeGreaterThan(0);
        expect(m.amount_residual).toBeLessThan(m.amount_total);
      }
      if (m.state === "posted") expect(m.name).toMatch(/^[A-Z0-9]+\/\d{4}\/\d{5}$/);
    }
  });

  it("has archived partners (hidden by default) and non-ASCII names", async () => {
    const visible = (await kw(sim.url, "res.partner", "search_count", [[]])) as number;
    const all = (await kw(sim.url, "res.partner", "search_count", [[]], {
      context: { active_test: false },
    })) as number;
    expect(all).toBeGreaterThan(visible);
    const archived = (await kw(sim.url, "res.partner", "search_read", [[["active", "=", false]]], {
      fields: ["name", "active"],
    })) as {
      name: string;
      active: boolean;
    }[];
    expect(archived.length).toBe(all - visible);
    expect(archived.map((p) => p.name)).toContain("Archivado Antiguo S.A.");
    const names = (await kw(sim.url, "res.partner", "search_read", [[["name", "ilike", "ñ"]]], {
      fields: ["name"],
    })) as { name: string }[];
    expect(names.map((p) => p.name)).toContain("Café Niño S.L.");
  });

  it("stores analytic distributions as JSON objects with string keys, including 'a,b' keys since 17", async () => {
    const lines = (await kw(
      sim.url,
      "account.move.line",
      "search_read",
      [[["analytic_distribution", "!=", false]]],
      {
        fields: ["analytic_distribution"],
        limit: 400,
      },
    )) as { analytic_distribution: Record<string, number> }[];
    expect(lines.length).toBeGreaterThan(10);
    const keys = lines.flatMap((l) => Object.keys(l.analytic_distribution));
    expect(keys.every((k) => /^\d+(,\d+)*$/.test(k))).toBe(true);
    expect(keys.some((k) => k.includes(","))).toBe(true);
    for (const l of lines) {
      const total = Object.values(l.analytic_distribution).reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(100, 6);
    }
  });

  it("links payments to their journal entries", async () => {
    const payments = (await kw(sim.url, "account.payment", "search_read", [[]], {
      fields: ["move_id", "state", "ref", "amount"],
      load: "",
      limit: 20,
    })) as { id: number; move_id: number; state: string; ref: string }[];
    expect(payments.length).toBeGreaterThan(0);
    for (const p of payments) {
      expect(p.state).toBe("posted");
      const [move] = (await kw(sim.url, "account.move", "read", [[p.move_id]], {
        fields: ["payment_id"],
        load: "",
      })) as {
        payment_id: number;
      }[];
      expect(move!.payment_id).toBe(p.id);
    }
  });

  it("records the reconciliation history: each open amount is the balance minus the partials that touch it", async () => {
    type Partial = {
      id: number;
      debit_move_id: number;
      credit_move_id: number;
      amount: number;
      debit_amount_currency: number;
      credit_amount_currency: number;
      debit_currency_id: number;
      company_id: number;
      max_date: string;
      write_date: string;
    };
    type Item = {
      id: number;
      move_id: number;
      date: string;
      balance: number;
      amount_currency: number;
      amount_residual: number;
      amount_residual_currency: number;
      currency_id: number;
      company_id: number;
      parent_state: string;
      reconciled: boolean;
      write_date: string;
    };
    const partials = (await kw(sim.url, "account.partial.reconcile", "search_read", [[]], {
      fields: [
        "debit_move_id",
        "credit_move_id",
        "amount",
        "debit_amount_currency",
        "credit_amount_currency",
        "debit_currency_id",
        "company_id",
        "max_date",
        "write_date",
      ],
      load: "",
    })) as Partial[];
    const items = (await kw(
      sim.url,
      "account.move.line",
      "search_read",
      [[["account_id.account_type", "in", ["asset_receivable", "liability_payable"]]]],
      {
        fields: [
          "move_id",
          "date",
          "balance",
          "amount_currency",
          "amount_residual",
          "amount_residual_currency",
          "currency_id",
          "company_id",
          "parent_state",
          "reconciled",
          "write_date",
        ],
        load: "",
      },
    )) as Item[];
    expect(partials.length).toBeGreaterThan(100);
    const byId = new Map(items.map((l) => [l.id, l]));
    const cents = (x: number) => Math.round(x * 100) || 0; // -0.0 is 0
    const applied = new Map<number, number>();
    const appliedCurrency = new Map<number, number>();
    let weeksLater = 0;
    for (const p of partials) {
      const debit = byId.get(p.debit_move_id)!;
      const credit = byId.get(p.credit_move_id)!;
      // both sides are receivable/payable items of the same company and currency, debit then credit
      expect(debit.balance).toBeGreaterThan(0);
      expect(credit.balance).toBeLessThan(0);
      expect(p.amount).toBeGreaterThan(0);
      expect(p.company_id).toBe(debit.company_id);
      expect(p.debit_currency_id).toBe(debit.currency_id);
      const [first, last] = [debit.date, credit.date].sort();
      expect(p.max_date).toBe(last);
      // a line is (re)written by the transaction that reconciles it
      expect(p.write_date <= [debit.write_date, credit.write_date].sort()[1]!).toBe(true);
      const days = (Date.parse(p.max_date) - Date.parse(first!)) / 864e5;
      if (days >= 14) weeksLater++;
      applied.set(debit.id, (applied.get(debit.id) ?? 0) - cents(p.amount));
      applied.set(credit.id, (applied.get(credit.id) ?? 0) + cents(p.amount));
      appliedCurrency.set(
        debit.id,
        (appliedCurrency.get(debit.id) ?? 0) - Math.round(p.debit_amount_currency * 1000),
      );
      appliedCurrency.set(
        credit.id,
        (appliedCurrency.get(credit.id) ?? 0) + Math.round(p.credit_amount_currency * 1000),
      );
    }
    expect(weeksLater).toBeGreaterThan(10);
    let open = 0;
    let settled = 0;
    for (const l of items) {
      if (l.parent_state !== "posted") continue;
      expect([l.id, cents(l.balance) + (applied.get(l.id) ?? 0)]).toEqual([l.id, cents(l.amount_residual)]);
      expect([l.id, Math.round(l.amount_currency * 1000) + (appliedCurrency.get(l.id) ?? 0)]).toEqual([
        l.id,
        Math.round(l.amount_residual_currency * 1000) || 0,
      ]);
      expect(l.reconciled).toBe(l.amount_residual === 0);
      if (l.amount_residual !== 0) open++;
      if (applied.has(l.id)) settled++;
    }
    expect(open).toBeGreaterThan(50);
    expect(settled).toBeGreaterThan(100);
  });

  it("matches reversed invoices with their reversal", async () => {
    const reversed = (await kw(
      sim.url,
      "account.move",
      "search_read",
      [[["payment_state", "=", "reversed"]]],
      {
        fields: ["name", "move_type", "amount_total"],
      },
    )) as { id: number; name: string; move_type: string; amount_total: number }[];
    expect(reversed.length).toBeGreaterThan(0);
    const reversals = (await kw(
      sim.url,
      "account.move",
      "search_read",
      [[["reversed_entry_id", "in", reversed.map((m) => m.id)]]],
      { fields: ["reversed_entry_id", "move_type", "ref", "amount_total", "state"], load: "" },
    )) as {
      reversed_entry_id: number;
      move_type: string;
      ref: string;
      amount_total: number;
      state: string;
    }[];
    expect(reversals).toHaveLength(reversed.length);
    const expectedType: Record<string, string> = {
      out_invoice: "out_refund",
      in_invoice: "in_refund",
      out_refund: "entry",
      in_refund: "entry",
    };
    for (const r of reversals) {
      const original = reversed.find((m) => m.id === r.reversed_entry_id)!;
      expect(r).toMatchObject({
        move_type: expectedType[original.move_type],
        ref: `Reversal of: ${original.name}`,
        amount_total: original.amount_total,
        state: "posted",
      });
    }
  });

  it("is deterministic: same seed, same data; another seed, other data", () => {
    const snapshot = (seed: number) => {
      const { store } = buildStore(17, seed, 0.05);
      const env = store.makeEnv({ active_test: false });
      const t = store.table("account.move.line");
      return JSON.stringify(
        store.readRows(
          t,
          store.search("account.move.line", [], { order: "id" }, env),
          store.checkFields(t, [
            "move_id",
            "account_id",
            "partner_id",
            "balance",
            "amount_currency",
            "name",
            "write_date",
            "analytic_distribution",
          ]),
          env,
        ),
      );
    };
    const a = snapshot(5);
    expect(snapshot(5)).toBe(a);
    expect(snapshot(6)).not.toBe(a);
  });

  it("returns create_date/write_date truncated to seconds while storing microseconds", async () => {
    const [rec] = (await kw(sim.url, "account.move", "read", [[1]], {
      fields: ["write_date", "create_date"],
    })) as {
      write_date: string;
    }[];
    const stored = sim.store.writeDate("account.move", 1)!;
    expect(stored).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
    expect(rec!.write_date).toBe(stored.slice(0, 19));
  });
});
