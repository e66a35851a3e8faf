import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OdooSim, startOdooSim } from "../src/index.js";
import { jsonrpc, kw, python } from "./helpers.js";

let sim: OdooSim;
beforeAll(async () => {
  sim = await startOdooSim({ version: 17, scale: 0.05, seed: 9, loginCooldown: { after: 3, seconds: 60 } });
});
afterAll(() => sim.close());
afterEach(() => {
  sim.control.clearFaults();
  sim.control.setClock(null);
});

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${sim.url}/__sim/${path}`, { method: "POST", body: JSON.stringify(body) });
  return (await res.json()) as Record<string, unknown>;
};
const since = (ts: string, model = "account.move") =>
  kw(sim.url, model, "search", [[["write_date", ">=", ts]]], { order: "write_date asc, id asc" }) as Promise<
    number[]
  >;

describe("control API: realistic changes", () => {
  it("update bumps write_date to the transaction time and is seen by an incremental query", async () => {
    sim.control.setClock("2031-01-01 12:00:00");
    const r = await post("update", { model: "account.move", ids: [3], values: { ref: "edited" } });
    expect(r.writeDate).toBe("2031-01-01 12:00:00.000000");
    expect(await since("2031-01-01 00:00:00")).toEqual([3]);
    const [line] = (await kw(sim.url, "account.move.line", "search_read", [[["move_id", "=", 3]]], {
      fields: ["ref", "write_date"],
      limit: 1,
    })) as {
      ref: string;
      write_date: string;
    }[];
    expect(line).toMatchObject({ ref: "edited", write_date: "2031-01-01 12:00:00" });
  });

  it("same-second bursts share one write_date; late commits appear with an old one", async () => {
    sim.control.setClock("2032-03-03 08:00:00");
    sim.control.burst("res.partner", [4, 5, 6, 7], { comment: "bulk" }, { at: "2032-03-03 07:59:59.250000" });
    const burst = (await kw(sim.url, "res.partner", "search_read", [[["id", "in", [4, 5, 6, 7]]]], {
      fields: ["write_date"],
    })) as { write_date: string }[];
    expect(new Set(burst.map((p) => p.write_date))).toEqual(new Set(["2032-03-03 07:59:59"]));
    const late = sim.control.lateCommit("res.partner", [8], { comment: "late" }, 90);
    expect(late.writeDate).toBe("2032-03-03 07:58:30.000000");
    // a cursor that already passed 07:59 misses it: only an overlap window finds it
    expect((await since("2032-03-03 07:59:00", "res.partner")).includes(8)).toBe(false);
    expect((await since("2032-03-03 07:55:00", "res.partner")).includes(8)).toBe(true);
  });

  it("creates balanced moves, archives and hard-deletes", async () => {
    const created = await post("create-move", {
      values: { move_type: "out_invoice", partner_id: 5, amounts: [100, 20.5], state: "posted" },
    });
    const moveId = (created.ids as number[])[0]!;
    const lines = (await kw(sim.url, "account.move.line", "search_read", [[["move_id", "=", moveId]]], {
      fields: ["balance", "debit", "credit"],
    })) as {
      balance: number;
    }[];
    expect(lines).toHaveLength(3);
    expect(lines.reduce((s, l) => s + Math.round(l.balance * 100), 0)).toBe(0);
    await post("archive", { model: "res.partner", ids: [6] });
    expect(((await kw(sim.url, "res.partner", "search", [[["id", "=", 6]]])) as number[]).length).toBe(0);
    const removed = await post("delete", { model: "account.move", ids: [moveId] });
    expect((removed["account.move.line"] as number[]).length).toBe(3);
    expect(await kw(sim.url, "account.move", "read", [[moveId]], { fields: ["name"] })).toEqual([]);
    expect(await kw(sim.url, "account.move.line", "search_count", [[["move_id", "=", moveId]]])).toBe(0);
  });

  it("regenerates a draft move's lines with new ids", async () => {
    const draft = sim.store.search("account.move", [["state", "=", "draft"]], { limit: 1 })[0]!;
    const before = (await kw(sim.url, "account.move.line", "search", [[["move_id", "=", draft]]], {
      order: "id",
    })) as number[];
    const r = sim.control.regenerateLines(draft);
    const after = (await kw(sim.url, "account.move.line", "search", [[["move_id", "=", draft]]], {
      order: "id",
    })) as number[];
    expect(after).toHaveLength(before.length);
    expect(after.some((id) => before.includes(id))).toBe(false);
    expect(r.removed).toEqual(before);
    expect(await kw(sim.url, "account.move.line", "read", [before], { fields: ["id"] })).toEqual([]);
    expect(Math.min(...after)).toBeGreaterThan(
      Math.max(...sim.store.ids("account.move.line").filter((id) => !after.includes(id))),
    );
  });

  it("pays an invoice: residual 0, paid, write_date bumped", async () => {
    const inv = sim.store.search(
      "account.move",
      [
        ["state", "=", "posted"],
        ["payment_state", "=", "not_paid"],
        ["move_type", "=", "out_invoice"],
      ],
      { limit: 1 },
    )[0]!;
    sim.control.setClock("2033-01-01 00:00:00");
    sim.control.payInvoice(inv);
    const [m] = (await kw(sim.url, "account.move", "read", [[inv]], {
      fields: ["payment_state", "amount_residual", "write_date"],
    })) as Record<string, unknown>[];
    expect(m).toMatchObject({ payment_state: "paid", amount_residual: 0, write_date: "2033-01-01 00:00:00" });
  });
});

describe("control API: payments and reconciliation", () => {
  type Item = { id: number; move_id: number; amount_residual: number; balance: number; reconciled: boolean };
  const items = async (domain: unknown[]) =>
    (await kw(sim.url, "account.move.line", "search_read", [domain], {
      fields: ["move_id", "amount_residual", "balance", "reconciled"],
      load: "",
      order: "id",
    })) as Item[];
  const partialsOf = async (lineIds: number[]) =>
    (await kw(
      sim.url,
      "account.partial.reconcile",
      "search_read",
      [["|", ["debit_move_id", "in", lineIds], ["credit_move_id", "in", lineIds]]],
      { fields: ["debit_move_id", "credit_move_id", "amount", "max_date", "write_date"], load: "" },
    )) as { id: number; debit_move_id: number; credit_move_id: number; amount: number; max_date: string }[];

  it("pays an invoice through a payment entry matched by partials, and unmatches when that entry is deleted", async () => {
    const inv = sim.store.search(
      "account.move",
      [
        ["state", "=", "posted"],
        ["payment_state", "=", "not_paid"],
        ["move_type", "=", "out_invoice"],
      ],
      { limit: 1, order: "id desc" },
    )[0]!;
    const terms = (
      await items([
        ["move_id", "=", inv],
        ["display_type", "=", "payment_term"],
      ])
    ).filter((l) => l.amount_residual !== 0);
    expect(terms.length).toBeGreaterThan(0);
    const due = terms.reduce((a, l) => a + Math.round(l.amount_residual * 100), 0);

    sim.control.setClock("2033-03-04 10:00:00");
    const paid = (await post("pay-invoice", { moveId: inv })) as { paymentId: number; partialIds: number[] };
    expect(paid.partialIds).toHaveLength(terms.length);
    const [payment] = (await kw(sim.url, "account.payment", "read", [[paid.paymentId]], {
      fields: ["amount", "payment_type", "move_id", "date", "state"],
      load: "",
    })) as { amount: number; payment_type: string; move_id: number; date: string }[];
    expect(payment).toMatchObject({ payment_type: "inbound", date: "2033-03-04" });
    expect(Math.round(payment!.amount * 100)).toBe(due);
    const entry = await items([["move_id", "=", payment!.move_id]]);
    const matched = await partialsOf(terms.map((l) => l.id));
    expect(matched).toHaveLength(terms.length);
    for (const p of matched) {
      expect(terms.map((l) => l.id)).toContain(p.debit_move_id);
      expect(entry.map((l) => l.id)).toContain(p.credit_move_id);
      expect(p.max_date).toBe("2033-03-04");
    }
    expect(matched.reduce((a, p) => a + Math.round(p.amount * 100), 0)).toBe(due);
    for (const l of await items([["id", "in", terms.map((t) => t.id)]])) {
      expect(l).toMatchObject({ amount_residual: 0, reconciled: true });
    }

    // deleting the payment's entry (Odoo would refuse; the simulator allows it) removes its partials
    const removed = sim.control.delete("account.move", [payment!.move_id]);
    expect(removed["account.partial.reconcile"]?.sort()).toEqual(paid.partialIds.sort());
    expect(await partialsOf(terms.map((l) => l.id))).toEqual([]);
    const back = await items([["id", "in", terms.map((t) => t.id)]]);
    expect(back.map((l) => [l.id, l.amount_residual, l.reconciled])).toEqual(
      terms.map((l) => [l.id, l.amount_residual, false]),
    );
  });
  it("registers partial payments on a given date: partial until the last one, each matched from its date", async () => {
    const created = sim.control.createMove({
      move_type: "in_invoice",
      partner_id: 7,
      state: "posted",
      date: "2024-03-01",
      amounts: [100, 21],
    });
    const inv = created.ids[0]!;
    const first = (await post("pay-invoice", { moveId: inv, amount: 50, date: "2024-04-10" })) as {
      partialIds: number[];
    };
    const read = async () =>
      (
        (await kw(sim.url, "account.move", "read", [[inv]], {
          fields: ["payment_state", "amount_residual"],
        })) as { payment_state: string; amount_residual: number }[]
      )[0];
    expect(await read()).toMatchObject({ payment_state: "partial", amount_residual: 71 });
    const [bill] = await items([
      ["move_id", "=", inv],
      ["display_type", "=", "payment_term"],
    ]);
    expect(bill).toMatchObject({ balance: -121, amount_residual: -71, reconciled: false });
    // a bill's payable line is the credit side; the outbound payment's line the debit side
    expect(await partialsOf([bill!.id])).toEqual([
      expect.objectContaining({
        id: first.partialIds[0],
        credit_move_id: bill!.id,
        amount: 50,
        max_date: "2024-04-10",
      }),
    ]);
    sim.control.payInvoice(inv, { date: "2024-05-20" });
    expect(await read()).toMatchObject({ payment_state: "paid", amount_residual: 0 });
    const matched = await partialsOf([bill!.id]);
    expect(matched.map((p) => [p.amount, p.max_date])).toEqual([
      [50, "2024-04-10"],
      [71, "2024-05-20"],
    ]);
  });
});

describe("control API: faults", () => {
  it("answers the next N requests with nginx HTML 502 / 504, then recovers", async () => {
    await post("faults", { kind: "http502", count: 2 });
    sim.control.injectFault({ kind: "http504" });
    const statuses: number[] = [];
    let page = "";
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${sim.url}/xmlrpc/2/common`, {
        method: "POST",
        body: "<methodCall><methodName>version</methodName></methodCall>",
      });
      statuses.push(res.status);
      const text = await res.text();
      if (i === 0) {
        page = text;
        expect(res.headers.get("content-type")).toContain("text/html");
      }
    }
    expect(statuses).toEqual([502, 502, 504, 200]);
    expect(page).toContain("<title>502 Bad Gateway</title>");
    const py = await python<string>(
      sim.url,
      `import urllib.request
try:
    xc.ServerProxy(URL + "/xmlrpc/2/common").version(); print(json.dumps("ok"))
except xc.ProtocolError as e:
    print(json.dumps("ProtocolError %d" % e.errcode))`,
    );
    expect(py).toBe("ok");
  });

  it("resets the connection mid-response", async () => {
    sim.control.injectFault({ kind: "reset", path: "/jsonrpc" });
    await expect(
      jsonrpc(sim.url, "object", "execute_kw", [
        "odoo",
        2,
        "admin",
        "account.move.line",
        "search_read",
        [[]],
        { fields: ["name"] },
      ]),
    ).rejects.toThrow();
    const ok = await jsonrpc(sim.url, "common", "version", []);
    expect(ok.result).toBeDefined();
  });

  it("slows answers down", async () => {
    sim.control.injectFault({ kind: "slow", delayMs: 300, count: 1 });
    const t0 = performance.now();
    await jsonrpc(sim.url, "common", "version", []);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
    const t1 = performance.now();
    await jsonrpc(sim.url, "common", "version", []);
    expect(performance.now() - t1).toBeLessThan(250);
  });

  it("locks logins out (explicitly and after repeated failures) until cleared", async () => {
    const auth = (pw: string) =>
      jsonrpc(sim.url, "common", "authenticate", ["odoo", "admin", pw, {}]).then((r) => r.result);
    expect(await auth("admin")).toBe(2);
    await post("lockout", { seconds: 30 });
    expect(await auth("admin")).toBe(false);
    sim.control.clearFaults();
    expect(await auth("admin")).toBe(2);
    for (let i = 0; i < 3; i++) expect(await auth("bad")).toBe(false);
    expect(await auth("admin")).toBe(false);
  });

  it("counts requests by method for asserting retries", async () => {
    await post("stats/reset", {});
    sim.control.injectFault({ kind: "http502" });
    await fetch(`${sim.url}/xmlrpc/2/common`, {
      method: "POST",
      body: "<methodCall><methodName>version</methodName></methodCall>",
    });
    await python(sim.url, `xc.ServerProxy(URL + "/xmlrpc/2/common").version(); print("1")`);
    await kw(sim.url, "res.partner", "search_count", [[]]);
    const stats = (await (await fetch(`${sim.url}/__sim/stats`)).json()) as Record<
      string,
      Record<string, number>
    >;
    expect(stats.total).toBe(3);
    expect(stats.byMethod).toEqual({ "common.version": 1, "jsonrpc.object.execute_kw": 1 });
    expect(stats.byModelMethod).toEqual({ "res.partner.search_count": 1 });
    expect(stats.byStatus).toEqual({ "502": 1, "200": 2 });
    expect(stats.faultsInjected).toEqual({ http502: 1 });
  });

  it("answers unknown paths with werkzeug's HTML 404 and GET on RPC paths with 405", async () => {
    const r = await fetch(`${sim.url}/nope`);
    expect(r.status).toBe(404);
    expect(await r.text()).toContain("<h1>Not Found</h1>");
    expect((await fetch(`${sim.url}/xmlrpc/2/object`)).status).toBe(405);
  });
});
