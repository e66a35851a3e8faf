import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OdooSim, type OdooVersion, startOdooSim } from "../src/index.js";
import { jsonrpc, kw, python } from "./helpers.js";

const sims = new Map<OdooVersion, OdooSim>();
beforeAll(async () => {
  for (const v of [16, 17, 18, 19] as OdooVersion[])
    sims.set(v, await startOdooSim({ version: v, scale: 0.05, seed: 4 }));
});
afterAll(async () => {
  for (const s of sims.values()) await s.close();
});
const sim = (v: OdooVersion) => sims.get(v)!;
const fieldNames = async (v: OdooVersion, model: string) =>
  Object.keys(
    (await kw(sim(v).url, model, "fields_get", [], { attributes: ["type"] })) as Record<string, unknown>,
  );

describe("version-specific field sets", () => {
  it.each([
    [16, ["payment_id", "to_check"], ["origin_payment_id", "checked"]],
    [17, ["payment_id", "to_check"], ["origin_payment_id", "checked"]],
    [18, ["origin_payment_id", "checked"], ["payment_id", "to_check"]],
    [19, ["origin_payment_id", "checked"], ["payment_id", "to_check"]],
  ] as [OdooVersion, string[], string[]][])("account.move on %i", async (v, present, absent) => {
    const names = await fieldNames(v, "account.move");
    for (const f of present) expect(names).toContain(f);
    for (const f of absent) expect(names).not.toContain(f);
  });

  it("renames account company_id → company_ids (18) and deprecated → active (19)", async () => {
    expect(await fieldNames(17, "account.account")).toEqual(
      expect.arrayContaining(["company_id", "deprecated"]),
    );
    const f18 = await fieldNames(18, "account.account");
    expect(f18).toEqual(expect.arrayContaining(["company_ids", "deprecated"]));
    expect(f18).not.toContain("company_id");
    const f19 = await fieldNames(19, "account.account");
    expect(f19).toEqual(expect.arrayContaining(["company_ids", "active"]));
    expect(f19).not.toContain("deprecated");
    // 19: the deprecated account is archived and hidden by default
    const visible = (await kw(sim(19).url, "account.account", "search_count", [[]])) as number;
    const all = (await kw(sim(19).url, "account.account", "search_count", [[]], {
      context: { active_test: false },
    })) as number;
    expect(all - visible).toBe(2);
  });

  it("reads account codes per company on 18+ (allowed_company_ids)", async () => {
    const url = sim(18).url;
    const c2 = (await kw(url, "account.account", "search_read", [[["company_ids", "in", [2]]]], {
      fields: ["code", "company_ids"],
      limit: 3,
    })) as {
      code: string | false;
    }[];
    expect(c2.every((a) => a.code === false)).toBe(true); // env.company = 1 has no code for them
    const c2With = (await kw(url, "account.account", "search_read", [[]], {
      fields: ["code", "company_ids"],
      limit: 3,
      context: { allowed_company_ids: [2] },
    })) as { code: string | false; company_ids: number[] }[];
    expect(c2With.every((a) => typeof a.code === "string" && a.company_ids[0] === 2)).toBe(true);
  });

  it("uses payment states and memo per version", async () => {
    const p17 = (await kw(sim(17).url, "account.payment", "fields_get", [], {
      attributes: ["selection"],
    })) as Record<string, { selection?: [string, string][] }>;
    expect(p17.state!.selection!.map((s) => s[0])).toEqual(["draft", "posted", "cancel"]);
    expect(p17.ref).toBeDefined();
    const p18 = (await kw(sim(18).url, "account.payment", "fields_get", [], {
      attributes: ["selection"],
    })) as Record<string, { selection?: [string, string][] }>;
    expect(p18.state!.selection!.map((s) => s[0])).toEqual([
      "draft",
      "in_process",
      "paid",
      "canceled",
      "rejected",
    ]);
    expect(p18.memo).toBeDefined();
    expect(p18.ref).toBeUndefined();
    const states = (await kw(sim(18).url, "account.payment", "search_read", [[]], { fields: ["state"] })) as {
      state: string;
    }[];
    expect(new Set(states.map((s) => s.state)).has("posted")).toBe(false);
  });

  it("honours fields_get attributes and reports store/relation/selection", async () => {
    const desc = (await kw(
      sim(17).url,
      "account.move.line",
      "fields_get",
      [["move_id", "balance", "display_name", "parent_state"]],
      {
        attributes: ["type", "store", "relation", "selection", "required", "readonly", "string"],
      },
    )) as Record<string, Record<string, unknown>>;
    expect(Object.keys(desc)).toEqual(["move_id", "parent_state", "balance", "display_name"]);
    expect(desc.move_id).toEqual({
      type: "many2one",
      store: true,
      relation: "account.move",
      required: true,
      readonly: true,
      string: "Journal Entry",
    });
    expect(desc.display_name!.store).toBe(false);
    expect(desc.balance!.selection).toBeUndefined();
    expect((desc.parent_state!.selection as string[][]).map((s) => s[0])).toEqual([
      "draft",
      "posted",
      "cancel",
    ]);
  });

  it.each([16, 17, 18, 19] as OdooVersion[])(
    "describes account.partial.reconcile like Odoo %i (amounts in the currency fields Odoo names)",
    async (v) => {
      const desc = (await kw(sim(v).url, "account.partial.reconcile", "fields_get", [], {
        attributes: ["type", "store", "relation", "currency_field", "required", "readonly"],
      })) as Record<string, Record<string, unknown>>;
      expect(desc.debit_move_id).toMatchObject({
        type: "many2one",
        relation: "account.move.line",
        required: true,
      });
      expect(desc.credit_move_id).toMatchObject({
        type: "many2one",
        relation: "account.move.line",
        required: true,
      });
      expect(desc.amount).toMatchObject({
        type: "monetary",
        store: true,
        currency_field: "company_currency_id",
      });
      expect(desc.debit_amount_currency).toMatchObject({
        type: "monetary",
        currency_field: "debit_currency_id",
      });
      expect(desc.credit_amount_currency).toMatchObject({
        type: "monetary",
        currency_field: "credit_currency_id",
      });
      // related to the company's currency, not stored; the line currencies are stored
      expect(desc.company_currency_id).toMatchObject({
        type: "many2one",
        store: false,
        relation: "res.currency",
      });
      expect(desc.debit_currency_id).toMatchObject({ store: true, readonly: true, relation: "res.currency" });
      expect(desc.max_date).toMatchObject({ type: "date", store: true, readonly: true });
      expect(desc.company_id).toMatchObject({ type: "many2one", relation: "res.company" });
      expect(desc.write_date).toMatchObject({ type: "datetime" });
      for (const f of ["full_reconcile_id", "exchange_move_id", "create_date"]) expect(desc[f]).toBeDefined();
      // read like any record: the company currency comes from the company
      const [p] = (await kw(sim(v).url, "account.partial.reconcile", "search_read", [[]], {
        fields: ["company_id", "company_currency_id", "display_name", "max_date"],
        limit: 1,
        context: { allowed_company_ids: [2, 1] },
      })) as {
        id: number;
        company_id: [number, string];
        company_currency_id: [number, string];
        display_name: string;
      }[];
      expect(p!.company_currency_id[0]).toBe(p!.company_id[0] === 1 ? 1 : 2);
      expect(p!.display_name).toBe(`account.partial.reconcile,${p!.id}`);
    },
  );

  it("faults like real Odoo when every field is requested: account.move on 16, account.move.line on 17", async () => {
    const run = (v: OdooVersion, model: string) =>
      python<[number, string]>(
        sim(v).url,
        `o = xc.ServerProxy(URL + "/xmlrpc/2/object")
try:
    o.execute_kw("odoo", 2, "admin", "${model}", "search_read", [[["state" if "${model}" == "account.move" else "parent_state", "=", "posted"]]], {"limit": 20})
    print(json.dumps([0, ""]))
except xc.Fault as f:
    print(json.dumps([f.faultCode, f.faultString.strip().splitlines()[-1]]))`,
      );
    expect(await run(16, "account.move")).toEqual([
      1,
      "TypeError: cannot marshal None unless allow_none is enabled",
    ]);
    expect(await run(17, "account.move")).toEqual([0, ""]);
    expect(await run(17, "account.move.line")).toEqual([1, "TypeError: dictionary key must be string"]);
    expect(await run(16, "account.move.line")).toEqual([0, ""]);
  });
});

describe("write_date comparison rule", () => {
  const at = "2030-05-05 10:00:00.500000";
  it.each([
    [17, true],
    [18, true],
    [19, false],
  ] as [OdooVersion, boolean][])(
    "on %i, write_date > 'X' matches a write later within second X: %s",
    async (v, matches) => {
      const s = sim(v);
      s.control.update("res.partner", [4], { phone: "+1 555" }, { at });
      const gt = (await kw(s.url, "res.partner", "search", [
        [["write_date", ">", "2030-05-05 10:00:00"]],
      ])) as number[];
      expect(gt.includes(4)).toBe(matches);
      const ge = (await kw(s.url, "res.partner", "search", [
        [["write_date", ">=", "2030-05-05 10:00:00"]],
      ])) as number[];
      expect(ge).toContain(4);
      const [rec] = (await kw(s.url, "res.partner", "read", [[4]], { fields: ["write_date"] })) as {
        write_date: string;
      }[];
      expect(rec!.write_date).toBe("2030-05-05 10:00:00");
    },
  );
});

describe("endpoints per version", () => {
  it("serves /web/version and JSON-2 on 19 only", async () => {
    const v19 = await fetch(`${sim(19).url}/web/version`);
    expect(v19.status).toBe(200);
    expect(await v19.json()).toEqual({ version_info: [19, 0, 0, "final", 0, ""], version: "19.0" });
    const v17 = await fetch(`${sim(17).url}/web/version`);
    expect(v17.status).toBe(404);
    expect(v17.headers.get("content-type")).toContain("text/html");
    expect(await v17.text()).toContain("<title>404 Not Found</title>");
    const j17 = await fetch(`${sim(17).url}/json/2/res.partner/search`, { method: "POST", body: "{}" });
    expect(j17.status).toBe(404);
  });

  it("answers JSON-2 with named params, bearer auth and Odoo's status mapping", async () => {
    const url = sim(19).url;
    const call = (path: string, body: unknown, key = "admin") =>
      fetch(`${url}/json/2/${path}`, {
        method: "POST",
        headers: {
          Authorization: `bearer ${key}`,
          "X-Odoo-Database": "odoo",
          "Content-Type": "application/json",
        },
        body: JSON.stringify(body),
      });
    const ok = await call("account.move.line/search_read", {
      domain: [["id", "<=", 3]],
      fields: ["balance", "move_id"],
      order: "id",
    });
    expect(ok.status).toBe(200);
    const rows = (await ok.json()) as { id: number; move_id: [number, string] }[];
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(Array.isArray(rows[0]!.move_id)).toBe(true);
    const readOk = await call("res.partner/read", { ids: [4, 5], fields: ["name"] });
    expect(((await readOk.json()) as { name: string }[]).map((r) => r.name)).toEqual([
      "Müller & Söhne GmbH",
      "Café Niño S.L.",
    ]);
    const statuses = await Promise.all([
      call("res.partner/search", { domain: [] }, "wrong"),
      call("res.partner/search", { domain: [], context: { allowed_company_ids: [9] } }),
      call("foo.bar/search", { domain: [] }),
      call("res.partner/nope", {}),
      call("res.partner/search", { domain: [], bogus: 1 }),
      call("res.partner/search", { domain: [["bogus", "=", 1]] }),
    ]);
    expect(statuses.map((r) => r.status)).toEqual([401, 403, 404, 404, 422, 500]);
    const body = (await statuses[5]!.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["arguments", "context", "debug", "message", "name"]);
    expect(body.name).toBe("builtins.ValueError");
  });

  it("reports the version over XML-RPC and JSON-RPC", async () => {
    for (const v of [16, 18] as OdooVersion[]) {
      const r = await jsonrpc(sim(v).url, "common", "version", []);
      expect((r.result as { server_version: string }).server_version).toBe(`${v}.0`);
      expect(r.id).toBe(7);
    }
  });
});
