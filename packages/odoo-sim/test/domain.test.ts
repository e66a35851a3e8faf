import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OdooSim, startOdooSim } from "../src/index.js";
import { jsonrpc, kw } from "./helpers.js";

let sim: OdooSim;
beforeAll(async () => {
  sim = await startOdooSim({ version: 17, scale: 0.2, seed: 2 });
});
afterAll(() => sim.close());

type Rec = Record<string, unknown> & { id: number };
const read = (model: string, domain: unknown[], fields: string[], extra: Record<string, unknown> = {}) =>
  kw(sim.url, model, "search_read", [domain], { fields, load: "", ...extra }) as Promise<Rec[]>;

describe("domain engine", () => {
  it("applies prefix operators with implicit '&'", async () => {
    const all = await read("account.move", [], ["move_type", "state"], { context: {} });
    const expected = all.filter(
      (m) => (m.move_type === "out_invoice" || m.move_type === "in_invoice") && m.state !== "draft",
    );
    const got = await read(
      "account.move",
      [
        "|",
        ["move_type", "=", "out_invoice"],
        ["move_type", "=", "in_invoice"],
        "!",
        ["state", "=", "draft"],
      ],
      ["id"],
    );
    expect(got.map((r) => r.id).sort((a, b) => a - b)).toEqual(
      expected.map((r) => r.id).sort((a, b) => a - b),
    );
    expect(got.length).toBeGreaterThan(0);
  });

  it("compares numbers, dates and many2one ids, with in / not in", async () => {
    const lines = await read(
      "account.move.line",
      [
        ["debit", ">", 1000],
        ["date", ">=", "2024-01-01"],
        ["date", "<", "2024-02-01"],
      ],
      ["debit", "date"],
    );
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.debit as number).toBeGreaterThan(1000);
      expect(String(l.date) >= "2024-01-01" && String(l.date) < "2024-02-01").toBe(true);
    }
    const byMove = await read("account.move.line", [["move_id", "in", [1, 2]]], ["move_id"]);
    expect(new Set(byMove.map((l) => l.move_id))).toEqual(new Set([1, 2]));
    const notIn = (await kw(sim.url, "account.move.line", "search_count", [
      [["move_id", "not in", [1, 2]]],
    ])) as number;
    expect(notIn + byMove.length).toBe(sim.store.count("account.move.line"));
  });

  it("matches like / ilike / =like / =ilike and many2one by name", async () => {
    const ilike = await read("res.partner", [["name", "ilike", "müller"]], ["name"]);
    expect(ilike.map((p) => p.name)).toEqual(["Müller & Söhne GmbH"]);
    expect(await read("res.partner", [["name", "like", "müller"]], ["name"])).toEqual([]);
    expect(
      (await read("res.partner", [["name", "=like", "Caf_ Niño%"]], ["name"])).map((p) => p.name),
    ).toEqual(["Café Niño S.L."]);
    expect((await read("res.partner", [["name", "=ilike", "café%"]], ["name"])).length).toBe(1);
    const viaName = await read("account.move", [["partner_id", "ilike", "Niño"]], ["partner_id"]);
    expect(viaName.length).toBeGreaterThan(0);
    expect(new Set(viaName.map((m) => m.partner_id))).toEqual(new Set([5]));
    const viaPath = await read("account.move", [["partner_id.name", "=", "Café Niño S.L."]], ["partner_id"]);
    expect(viaPath.map((m) => m.id)).toEqual(viaName.map((m) => m.id));
  });

  it("treats '= False' as unset and '!=' as including unset values", async () => {
    const noPartner = await read("account.move", [["partner_id", "=", false]], ["partner_id"]);
    expect(noPartner.length).toBeGreaterThan(0);
    expect(noPartner.every((m) => m.partner_id === false)).toBe(true);
    const notFive = (await kw(sim.url, "account.move", "search_count", [
      [["partner_id", "!=", 5]],
    ])) as number;
    const five = (await kw(sim.url, "account.move", "search_count", [[["partner_id", "=", 5]]])) as number;
    expect(notFive + five).toBe(sim.store.count("account.move"));
  });

  it("orders, offsets and limits like Odoo (limit 0 / false = no limit)", async () => {
    const desc = (await kw(sim.url, "account.move.line", "search", [[]], {
      order: "id desc",
      limit: 5,
    })) as number[];
    const ids = sim.store.ids("account.move.line");
    expect(desc).toEqual(ids.slice(-5).reverse());
    const page2 = (await kw(sim.url, "account.move.line", "search", [[]], {
      order: "id asc",
      offset: 5,
      limit: 5,
    })) as number[];
    expect(page2).toEqual(ids.slice(5, 10));
    for (const limit of [0, false, null]) {
      const all = (await kw(sim.url, "account.move.line", "search", [[]], {
        order: "id",
        limit,
      })) as number[];
      expect(all.length).toBe(ids.length);
    }
    const byWd = await read("account.move.line", [], ["write_date"], { order: "write_date asc, id asc" });
    for (let i = 1; i < byWd.length; i++) {
      const a = byWd[i - 1]!;
      const b = byWd[i]!;
      const ok =
        String(a.write_date) < String(b.write_date) || (a.write_date === b.write_date && a.id < b.id);
      if (!ok) expect([a, b]).toBe("ordered by write_date, id");
    }
    const multi = await read("account.move", [], ["date", "name"], { order: "date desc, id asc", limit: 50 });
    for (let i = 1; i < multi.length; i++)
      expect(String(multi[i - 1]!.date) >= String(multi[i]!.date)).toBe(true);
  });

  it("rejects bad domains, orders and operators with fault-1 errors", async () => {
    const r1 = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "res.partner",
      "search",
      [[["name", "~", "x"]]],
    ]);
    expect((r1.error as { data: { name: string } }).data.name).toBe("builtins.ValueError");
    const r2 = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "res.partner",
      "search",
      [[]],
      { order: "nope desc" },
    ]);
    expect((r2.error as { data: { message: string } }).data.message).toMatch(
      /^Invalid "order" specified \(nope desc\)/,
    );
    const r3 = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "res.partner",
      "search",
      [["|", ["id", "=", 1]]],
    ]);
    expect((r3.error as { code: number; message: string }).message).toBe("Odoo Server Error");
  });

  it("supports child_of on hierarchical partners", async () => {
    const withParent = await read("res.partner", [["parent_id", "!=", false]], ["parent_id"], { limit: 1 });
    const parent = withParent[0]!.parent_id as number;
    const family = (await kw(sim.url, "res.partner", "search", [[["id", "child_of", parent]]], {
      context: { active_test: false },
    })) as number[];
    expect(family).toContain(parent);
    expect(family).toContain(withParent[0]!.id);
  });
});

describe("context: active_test and allowed_company_ids", () => {
  it("hides archived records unless active_test is false or the domain mentions active", async () => {
    const archivedIds = sim.store.search("res.partner", [["active", "=", false]]);
    expect(archivedIds.length).toBeGreaterThan(0);
    const visible = (await kw(sim.url, "res.partner", "search", [[]])) as number[];
    expect(visible.some((id) => archivedIds.includes(id))).toBe(false);
    const all = (await kw(sim.url, "res.partner", "search", [[]], {
      context: { active_test: false },
    })) as number[];
    expect(archivedIds.every((id) => all.includes(id))).toBe(true);
    // read by id ignores active_test
    const [rec] = (await kw(sim.url, "res.partner", "read", [[archivedIds[0]]], {
      fields: ["active"],
    })) as Rec[];
    expect(rec!.active).toBe(false);
  });

  it("restricts company-dependent models to allowed_company_ids and refuses other companies", async () => {
    const c1 = (await kw(sim.url, "account.move", "search_count", [[]], {
      context: { allowed_company_ids: [1] },
    })) as number;
    const c2 = (await kw(sim.url, "account.move", "search_count", [[]], {
      context: { allowed_company_ids: [2] },
    })) as number;
    const both = (await kw(sim.url, "account.move", "search_count", [[]])) as number;
    expect(c1).toBeGreaterThan(0);
    expect(c2).toBeGreaterThan(0);
    expect(c1 + c2).toBe(both);
    const moves = await read("account.move", [], ["company_id"], { context: { allowed_company_ids: [2] } });
    expect(new Set(moves.map((m) => m.company_id))).toEqual(new Set([2]));
    // reading a company-1 record with only company 2 allowed: access error (fault 4)
    const company1Move = sim.store.search("account.move", [["company_id", "=", 1]], { limit: 1 })[0]!;
    const r = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "account.move",
      "read",
      [[company1Move]],
      { fields: ["name"], context: { allowed_company_ids: [2] } },
    ]);
    expect((r.error as { data: { name: string } }).data.name).toBe("odoo.exceptions.AccessError");
    const bad = await jsonrpc(sim.url, "object", "execute_kw", [
      "odoo",
      2,
      "admin",
      "account.move",
      "search",
      [[]],
      { context: { allowed_company_ids: [7] } },
    ]);
    expect((bad.error as { data: { name: string; message: string } }).data).toMatchObject({
      name: "odoo.exceptions.AccessError",
      message: "Access to unauthorized or invalid companies.",
    });
  });

  it("drops ids that no longer exist from read", async () => {
    const recs = (await kw(sim.url, "account.move", "read", [[1, 999_999, 2]], {
      fields: ["name"],
    })) as Rec[];
    expect(recs.map((r) => r.id)).toEqual([1, 2]);
  });
});
