import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODEL_NAMES } from "../src/registry.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

describe("full sync", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_full", { version: 17 });
  });
  afterAll(() => h?.close());

  it("copies every field of every record of every model, archived included", async () => {
    const result = await h.engine.sync(job(), [...MODEL_NAMES], "full");
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
});
