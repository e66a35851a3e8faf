import { MODEL_NAMES } from "@finanzas/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

describe("full sync", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_full", { version: 17 });
  });
  afterAll(() => h?.close());

  it("copies every field of every record of every model, archived included", async () => {
    const result = await sync(h.engine, job(), [...MODEL_NAMES], "full");
    expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
    expect(await diffWithSource(h)).toEqual([]);
    const archived = await h.store.pool.query(
      "select count(*)::int as n from odoo.res_partner where active = false",
    );
    expect(archived.rows[0].n).toBeGreaterThan(0);
    const lines = result.models.find((m) => m.model === "account.move.line");
    // Each record written once (the catch-up after the pass re-reads a few, unchanged, not rewritten).
    expect(lines?.upserted).toBe(h.sim.store.count("account.move.line"));
  });

  it("leaves the planner's statistics fresh: each table analyzed, its row estimate its row count", async () => {
    // Without it the API plans its reads over tables PostgreSQL believes empty until autovacuum
    // comes by (never, where it is off): nested loops over 10^5 rows.
    const { rows } = await h.store.pool.query<{ table: string; tuples: number; n: number }>(
      `select c.relname as table, c.reltuples::float8 as tuples,
         (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from odoo.%I', c.relname), false, true, '')))[1]::text::int as n
       from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
       where ns.nspname = 'odoo' and c.relkind = 'r' order by 1`,
    );
    expect(rows.length).toBe(MODEL_NAMES.length);
    for (const r of rows) expect(r.tuples, r.table).toBe(r.n);
  });

  it("analyzes again after an incremental run that changed a tenth of a table, not after a small one", async () => {
    const analyzed = async () =>
      (
        await h.store.pool.query<{ n: number; tuples: number }>(
          `select s.analyze_count::int as n, c.reltuples::float8 as tuples from pg_stat_user_tables s
             join pg_class c on c.oid = s.relid where s.schemaname = 'odoo' and s.relname = 'res_partner'`,
        )
      ).rows[0]!;
    const before = await analyzed();
    const [one] = h.sim.store.ids("res.partner");
    h.sim.control.update("res.partner", [one!], { ref: "small change" });
    expect((await sync(h.engine, job(), ["res.partner"], "incremental")).status).toBe("succeeded");
    expect((await analyzed()).n).toBe(before.n);

    const added = Math.ceil(60 + 0.2 * before.tuples);
    for (let i = 0; i < added; i++) h.sim.control.create("res.partner", { name: `Statistics ${i}` });
    expect((await sync(h.engine, job(), ["res.partner"], "incremental")).status).toBe("succeeded");
    const after = await analyzed();
    expect(after.n).toBe(before.n + 1);
    expect(after.tuples).toBe(before.tuples + added);
  });

  it("copies the reconciliation history: residual = balance − partials on every receivable/payable item", async () => {
    const partials = await h.store.pool.query(
      "select count(*)::int as n, count(distinct company_currency_id)::int as currencies from odoo.account_partial_reconcile where _deleted_at is null",
    );
    expect(partials.rows[0].n).toBe(h.sim.store.count("account.partial.reconcile"));
    expect(partials.rows[0].n).toBeGreaterThan(20);
    expect(partials.rows[0].currencies).toBe(2);
    // exact numeric on both sides: the synced copy reproduces Odoo's own residual computation
    const { rows } = await h.store.pool.query(`
      select count(*)::int as items,
        count(*) filter (where l.amount_residual <> l.balance)::int as matched,
        count(*) filter (where l.amount_residual <> l.balance
          - coalesce((select sum(p.amount) from odoo.account_partial_reconcile p where p.debit_move_id = l.id), 0)
          + coalesce((select sum(p.amount) from odoo.account_partial_reconcile p where p.credit_move_id = l.id), 0)
        )::int as different
      from odoo.account_move_line l join odoo.account_account a on a.id = l.account_id
      where a.account_type in ('asset_receivable', 'liability_payable') and l.parent_state = 'posted'`);
    expect(rows[0].items).toBeGreaterThan(100);
    expect(rows[0].matched).toBeGreaterThan(20);
    expect(rows[0].different).toBe(0);
  });
});
