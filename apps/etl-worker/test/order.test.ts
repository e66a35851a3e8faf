import { sql } from "@finanzas/db";
import { MODEL_NAMES } from "@finanzas/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { type Harness, harness, job } from "./helpers.js";

/**
 * Models start largest first: with one slot, the start order of a run is the order of the local
 * tables' sizes (journal items first before any sync), so the biggest table never starts last and
 * leaves the other slots idle while it runs alone.
 */
describe("model scheduling", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_order", {}, { modelConcurrency: 1 });
  }, 60_000);
  afterAll(async () => h?.close());

  const startOrder = async (runId: number) =>
    (
      await h.store.db
        .selectFrom("etl.run_models")
        .select(["model", "started_at"])
        .where("run_id", "=", runId)
        .orderBy("started_at")
        .execute()
    ).map((r) => r.model);

  it("starts journal items, then journal entries, first when nothing was synced yet", async () => {
    const result = await sync(h.engine, job(), [...MODEL_NAMES], "full");
    expect(result.status).toBe("succeeded");
    const order = await startOrder(result.runId);
    expect(order.slice(0, 2)).toEqual(["account.move.line", "account.move"]);
    expect(order).toHaveLength(MODEL_NAMES.length);
  });

  it("orders by the local tables' sizes once they are known", async () => {
    // The simulator has more partners than journals and currencies: after ANALYZE their estimated
    // sizes order them, whatever the registry's order.
    await sql`analyze`.execute(h.store.db);
    const { rows } = await sql<{ model: string; n: number }>`
      select replace(relname, '_', '.') as model, reltuples::float8 as n from pg_class c
      join pg_namespace s on s.oid = c.relnamespace where s.nspname = 'odoo' and c.relkind = 'r'`.execute(
      h.store.db,
    );
    const size = new Map(rows.map((r) => [r.model, Number(r.n)]));
    const result = await sync(
      h.engine,
      job(),
      ["res.currency", "res.partner", "account.journal"],
      "incremental",
    );
    const order = await startOrder(result.runId);
    const expected = ["res.currency", "res.partner", "account.journal"].sort(
      (a, b) => (size.get(b) ?? 0) - (size.get(a) ?? 0),
    );
    expect(size.get("res.partner")).toBeGreaterThan(size.get("res.currency") ?? 0);
    expect(order).toEqual(expected);
  });
});
