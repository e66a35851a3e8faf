import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OdooSim, type OdooVersion, startOdooSim } from "../src/index.js";
import { kw, python } from "./helpers.js";

const VERSIONS: OdooVersion[] = [16, 17, 18, 19];
const sims = new Map<OdooVersion, OdooSim>();
beforeAll(async () => {
  for (const v of VERSIONS) sims.set(v, await startOdooSim({ version: v, scale: 0.1, seed: 23 }));
});
afterAll(async () => {
  for (const s of sims.values()) await s.close();
});
const sim = (v: OdooVersion) => sims.get(v)!;
const ALL = { active_test: false };

describe("res.country and res.partner.country_id", () => {
  it("reads partners' country_id as [id, name] over XML-RPC (CPython's client), matching country_code", async () => {
    const r = await python<{
      partners: { id: number; country_id: [number, string] | false; country_code: string | false }[];
      countries: { id: number; name: string; code: string }[];
      types: string[];
    }>(
      sim(17).url,
      `o = xc.ServerProxy(URL + "/xmlrpc/2/object")
partners = o.execute_kw("odoo", 2, "admin", "res.partner", "search_read", [[]], {"fields": ["country_id", "country_code"], "context": {"active_test": False}, "order": "id"})
countries = o.execute_kw("odoo", 2, "admin", "res.country", "search_read", [[]], {"fields": ["name", "code"], "order": "id"})
types = sorted({type(p["country_id"]).__name__ for p in partners})
print(json.dumps({"partners": partners, "countries": countries, "types": types}))`,
    );
    // a many2one: a list [id, display name] when set, False when not
    expect(r.types).toEqual(["bool", "list"]);
    expect(r.countries.length).toBeGreaterThanOrEqual(10);
    expect(r.countries.map((c) => c.id)).toEqual(r.countries.map((_, i) => i + 1));
    const byId = new Map(r.countries.map((c) => [c.id, c]));
    let set = 0;
    for (const p of r.partners) {
      if (p.country_id === false) {
        expect(p.country_code).toBe(false);
        continue;
      }
      set++;
      const [id, name] = p.country_id;
      expect(byId.get(id)?.name).toBe(name);
      // country_code is related to country_id.code in Odoo
      expect([p.id, p.country_code]).toEqual([p.id, byId.get(id)!.code]);
    }
    expect(set / r.partners.length).toBeGreaterThan(0.8);
    expect(set).toBeLessThan(r.partners.length);
    expect(r.partners.find((p) => p.id === 4)!.country_id).toEqual([2, "Germany"]);
  });

  it.each(VERSIONS)("describes country_id and full_reconcile_id in fields_get on %i", async (v) => {
    const attributes = ["type", "relation", "store", "string", "readonly"];
    const get = async (model: string) =>
      (await kw(sim(v).url, model, "fields_get", [], { attributes })) as Record<
        string,
        Record<string, unknown>
      >;
    expect((await get("res.partner")).country_id).toEqual({
      type: "many2one",
      relation: "res.country",
      store: true,
      string: "Country",
      readonly: false,
    });
    expect((await get("account.move.line")).full_reconcile_id).toEqual({
      type: "many2one",
      relation: "account.full.reconcile",
      store: true,
      string: "Matching",
      readonly: true,
    });
    expect((await get("account.partial.reconcile")).full_reconcile_id).toMatchObject({
      type: "many2one",
      relation: "account.full.reconcile",
      store: true,
    });
    const country = await get("res.country");
    expect(country.name).toMatchObject({ type: "char", store: true });
    expect(country.code).toMatchObject({ type: "char", store: true });
    const full = await get("account.full.reconcile");
    expect(full.partial_reconcile_ids).toMatchObject({
      type: "one2many",
      relation: "account.partial.reconcile",
    });
    expect(full.reconciled_line_ids).toMatchObject({ type: "one2many", relation: "account.move.line" });
    // Odoo 16 names full reconciles from a sequence; 17 dropped the field
    if (v === 16) expect(full.name).toMatchObject({ type: "char", store: true });
    else expect(full.name).toBeUndefined();
  });
});

describe("account.full.reconcile", () => {
  type Item = {
    id: number;
    amount_residual: number;
    amount_residual_currency: number;
    reconciled: boolean;
    full_reconcile_id: number | false;
    matching_number: string | false;
    account_id: number;
  };
  type Partial = {
    id: number;
    debit_move_id: number;
    credit_move_id: number;
    full_reconcile_id: number | false;
  };
  type Full = {
    id: number;
    reconciled_line_ids: number[];
    partial_reconcile_ids: number[];
    display_name: string;
  };

  it.each(VERSIONS)(
    "is set on exactly the journal items of settled matching groups, and on their partials (%i)",
    async (v) => {
      const url = sim(v).url;
      const accounts = (await kw(url, "account.account", "search_read", [[]], {
        fields: ["account_type", "reconcile"],
        context: ALL,
      })) as { id: number; account_type: string; reconcile: boolean }[];
      const receivablePayable = new Set(
        accounts
          .filter((a) => a.reconcile && ["asset_receivable", "liability_payable"].includes(a.account_type))
          .map((a) => a.id),
      );
      const items = (await kw(url, "account.move.line", "search_read", [[]], {
        fields: [
          "amount_residual",
          "amount_residual_currency",
          "reconciled",
          "full_reconcile_id",
          "matching_number",
          "account_id",
        ],
        load: "",
      })) as Item[];
      const partials = (await kw(url, "account.partial.reconcile", "search_read", [[]], {
        fields: ["debit_move_id", "credit_move_id", "full_reconcile_id"],
        load: "",
      })) as Partial[];
      const fulls = (await kw(url, "account.full.reconcile", "search_read", [[]], {
        fields: ["reconciled_line_ids", "partial_reconcile_ids", "display_name"],
      })) as Full[];
      const byId = new Map(items.map((l) => [l.id, l]));

      // matching groups computed here from the partials alone (union-find over item ids)
      const parent = new Map<number, number>();
      const find = (x: number): number => {
        let r = x;
        while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r)!;
        parent.set(x, r);
        return r;
      };
      for (const p of partials) {
        for (const id of [p.debit_move_id, p.credit_move_id]) if (!parent.has(id)) parent.set(id, id);
        const a = find(p.debit_move_id);
        const b = find(p.credit_move_id);
        if (a !== b) parent.set(a, b);
      }
      const groups = new Map<number, number[]>();
      for (const id of parent.keys()) {
        const root = find(id);
        groups.set(root, [...(groups.get(root) ?? []), id]);
      }
      const settled = (id: number) => {
        const l = byId.get(id)!;
        return (
          l.amount_residual === 0 && l.amount_residual_currency === 0 && receivablePayable.has(l.account_id)
        );
      };
      const expected = new Set<number>();
      for (const ids of groups.values()) if (ids.every(settled)) for (const id of ids) expected.add(id);

      const withFull = items.filter((l) => l.full_reconcile_id !== false);
      expect(expected.size).toBeGreaterThan(50);
      expect(new Set(withFull.map((l) => l.id))).toEqual(expected);
      for (const l of withFull) {
        expect(l.reconciled).toBe(true);
        expect(receivablePayable.has(l.account_id)).toBe(true);
      }
      // partially paid invoices: their payment items are reconciled, the group is not settled
      expect(items.some((l) => l.reconciled && l.full_reconcile_id === false)).toBe(true);

      // one full reconcile per settled group; its partials carry it too
      const fullOfGroup = new Map<number, number>();
      for (const l of withFull) {
        const root = find(l.id);
        const seen = fullOfGroup.get(root);
        if (seen === undefined) fullOfGroup.set(root, l.full_reconcile_id as number);
        else expect(l.full_reconcile_id).toBe(seen);
      }
      expect(new Set(fullOfGroup.values()).size).toBe(fullOfGroup.size);
      for (const p of partials) {
        const debit = byId.get(p.debit_move_id)!;
        expect([p.id, p.full_reconcile_id]).toEqual([p.id, debit.full_reconcile_id]);
        expect(byId.get(p.credit_move_id)!.full_reconcile_id).toBe(debit.full_reconcile_id);
      }
      expect(partials.some((p) => p.full_reconcile_id === false)).toBe(true);

      // the full reconcile records list the same items and partials
      expect(fulls.map((f) => f.id).sort((a, b) => a - b)).toEqual(
        [...new Set(fullOfGroup.values())].sort((a, b) => a - b),
      );
      for (const f of fulls) {
        expect(f.reconciled_line_ids.slice().sort((a, b) => a - b)).toEqual(
          withFull
            .filter((l) => l.full_reconcile_id === f.id)
            .map((l) => l.id)
            .sort((a, b) => a - b),
        );
        expect(f.partial_reconcile_ids.slice().sort((a, b) => a - b)).toEqual(
          partials
            .filter((p) => p.full_reconcile_id === f.id)
            .map((p) => p.id)
            .sort((a, b) => a - b),
        );
        expect(f.display_name).toBe(v === 16 ? `A${f.id}` : `account.full.reconcile,${f.id}`);
      }

      // matching_number: one per full reconcile (its name on 16), never a full one without it
      for (const l of withFull) {
        if (v === 16) expect(l.matching_number).toBe(`A${l.full_reconcile_id}`);
        else expect(l.matching_number).toMatch(/^A\d+$/);
      }
      const numbers = new Map<number, Set<string>>();
      for (const l of withFull) {
        const set = numbers.get(l.full_reconcile_id as number) ?? new Set<string>();
        set.add(String(l.matching_number));
        numbers.set(l.full_reconcile_id as number, set);
      }
      for (const set of numbers.values()) expect(set.size).toBe(1);
      for (const l of items) {
        if (l.full_reconcile_id !== false) continue;
        if (v === 16) expect(l.matching_number === false || l.matching_number === "P").toBe(true);
        else expect(String(l.matching_number).startsWith("A")).toBe(false);
      }
    },
  );

  it("follows the control API: created when a payment settles the group, removed with a partial", async () => {
    const s = sim(18);
    const url = s.url;
    const invoice = s.control.createMove({
      move_type: "out_invoice",
      partner_id: 5,
      amounts: [100, 21],
      state: "posted",
      date: "2024-04-01",
    });
    const inv = invoice.ids[0]!;
    const itemsOf = async (moveIds: number[]) =>
      (await kw(
        url,
        "account.move.line",
        "search_read",
        [
          [
            ["move_id", "in", moveIds],
            ["display_type", "=", "payment_term"],
          ],
        ],
        { fields: ["move_id", "full_reconcile_id", "reconciled", "matching_number", "write_date"], load: "" },
      )) as { id: number; full_reconcile_id: number | false; reconciled: boolean; write_date: string }[];
    const fullCount = async () => (await kw(url, "account.full.reconcile", "search_count", [[]])) as number;
    const before = await fullCount();

    s.control.setClock("2034-01-01 09:00:00");
    const first = s.control.payInvoice(inv, { amount: 50, date: "2024-04-10" });
    expect(await fullCount()).toBe(before);
    const firstPayMove = (
      (await kw(url, "account.payment", "read", [[first.paymentId!]], { fields: ["move_id"], load: "" })) as {
        move_id: number;
      }[]
    )[0]!.move_id;
    for (const l of await itemsOf([inv, firstPayMove])) expect(l.full_reconcile_id).toBe(false);

    s.control.setClock("2034-01-02 09:00:00");
    const second = s.control.payInvoice(inv, { date: "2024-05-20" });
    const secondPayMove = (
      (await kw(url, "account.payment", "read", [[second.paymentId!]], {
        fields: ["move_id"],
        load: "",
      })) as {
        move_id: number;
      }[]
    )[0]!.move_id;
    expect(await fullCount()).toBe(before + 1);
    const group = await itemsOf([inv, firstPayMove, secondPayMove]);
    expect(group).toHaveLength(3);
    const fullId = group[0]!.full_reconcile_id;
    expect(fullId).not.toBe(false);
    for (const l of group) {
      expect(l.full_reconcile_id).toBe(fullId);
      expect(l.reconciled).toBe(true);
      // the first payment's item is rewritten by the transaction that completes the group
      expect(l.write_date).toBe("2034-01-02 09:00:00");
    }
    const partialIds = [...first.partialIds, ...second.partialIds];
    const partials = (await kw(url, "account.partial.reconcile", "read", [partialIds], {
      fields: ["full_reconcile_id", "write_date"],
      load: "",
    })) as { full_reconcile_id: number | false }[];
    expect(partials.map((p) => p.full_reconcile_id)).toEqual([fullId, fullId]);
    const [full] = (await kw(url, "account.full.reconcile", "read", [[fullId]], {
      fields: ["reconciled_line_ids", "partial_reconcile_ids", "create_date"],
    })) as { reconciled_line_ids: number[]; partial_reconcile_ids: number[]; create_date: string }[];
    expect(full!.reconciled_line_ids.sort((a, b) => a - b)).toEqual(
      group.map((l) => l.id).sort((a, b) => a - b),
    );
    expect(full!.partial_reconcile_ids.sort((a, b) => a - b)).toEqual(partialIds.sort((a, b) => a - b));
    expect(full!.create_date).toBe("2034-01-02 09:00:00");

    // unreconciling one payment: Odoo unlinks the full reconcile; every item and partial loses it
    s.control.setClock("2034-01-03 09:00:00");
    s.control.delete("account.partial.reconcile", [second.partialIds[0]!]);
    expect(await fullCount()).toBe(before);
    expect(await kw(url, "account.full.reconcile", "search_count", [[["id", "=", fullId]]])).toBe(0);
    for (const l of await itemsOf([inv, firstPayMove, secondPayMove])) {
      expect(l.full_reconcile_id).toBe(false);
      expect(l.write_date).toBe("2034-01-03 09:00:00");
    }
    const [left] = (await kw(url, "account.partial.reconcile", "read", [first.partialIds], {
      fields: ["full_reconcile_id", "write_date"],
      load: "",
    })) as { full_reconcile_id: number | false; write_date: string }[];
    expect(left).toEqual({
      id: first.partialIds[0],
      full_reconcile_id: false,
      write_date: "2034-01-03 09:00:00",
    });
    s.control.setClock(null);
  });
});
