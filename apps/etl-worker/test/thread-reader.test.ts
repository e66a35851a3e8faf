import type { OdooClientOptions } from "@finanzas/odoo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import type { PageReader } from "../src/pages.js";
import { MODEL_NAMES } from "../src/registry.js";
import { createThreadReader } from "../src/thread-reader.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

/*
 * The service reads sync pages on a worker thread (the built dist/reader-thread.js): the copy must
 * be the same as with pages read on the main thread, and Odoo's errors must come back by name.
 */
describe("reader thread", () => {
  let h: Harness;
  let reader: PageReader;
  let engine: Engine;
  const engineWith = (r: PageReader) => h.engineWith({ reader: r });

  /** The simulator's connection settings for a reader thread's client. */
  const simClient = (overrides: Partial<OdooClientOptions> = {}): OdooClientOptions => ({
    url: h.sim.url,
    db: h.sim.database,
    username: h.sim.username,
    password: h.sim.password,
    retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
    ...overrides,
  });

  beforeAll(async () => {
    h = await harness("etl_thread", { version: 18 });
    reader = createThreadReader(simClient());
    engine = engineWith(reader);
  });
  afterAll(async () => {
    await reader?.close();
    await h?.close();
  });

  it("copies every field of every record of every model, as the main thread does", async () => {
    const result = await engine.sync(job(), [...MODEL_NAMES], "full");
    expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
    expect(await diffWithSource(h)).toEqual([]);
    const lines = result.models.find((m) => m.model === "account.move.line");
    expect(lines?.fetched).toBeGreaterThanOrEqual(h.sim.store.count("account.move.line"));
    // an incremental pass over the same data through the thread changes nothing
    const again = await engine.sync(job(), [...MODEL_NAMES], "incremental");
    expect(again.status).toBe("succeeded");
    expect(again.models.reduce((n, m) => n + m.upserted, 0)).toBe(0);
    expect(await diffWithSource(h)).toEqual([]);
  });

  it("lands the same data with two reader threads, a first sync included", async () => {
    const two = createThreadReader(simClient(), { heapMb: 128, threads: 2 });
    try {
      await h.store.pool.query("truncate odoo.account_move_line, odoo.account_move, odoo.res_partner");
      await h.store.pool.query("delete from etl.cursors");
      const result = await engineWith(two).sync(job(), [...MODEL_NAMES], "full");
      expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
      expect(await diffWithSource(h)).toEqual([]);
    } finally {
      await two.close();
    }
  });

  it("fails the model with Odoo's error, by name, when the thread cannot read", async () => {
    const refused = createThreadReader(simClient({ password: "not the password", retry: false }));
    try {
      const result = await engineWith(refused).sync(job(), ["res.currency"], "full");
      expect(result.status).toBe("failed");
      expect(result.models[0]?.error).toMatch(/^OdooAuthError: /);
    } finally {
      await refused.close();
    }
  });

  it("starts a new thread after close, and close is idempotent", async () => {
    const r = createThreadReader(simClient());
    const e = engineWith(r);
    expect((await e.sync(job(), ["res.company"], "full")).status).toBe("succeeded");
    await r.close();
    await r.close();
    expect((await e.sync(job(), ["res.company"], "full")).status).toBe("succeeded");
    await r.close();
  });
});
