import { MODEL_NAMES, specOf } from "@finanzas/ledger";
import type { OdooClientOptions } from "@finanzas/odoo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine/index.js";
import { sync } from "../src/jobs/sync.js";
import { inProcessReader, type PageReader, type PageRequest, type PageSummary } from "../src/odoo/pages.js";
import { currencyDecimals, fieldsGet, resolveModel, type Source } from "../src/odoo/source.js";
import { createThreadReader, decodeAhead } from "../src/odoo/thread-reader.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

/*
 * The service reads sync pages on a worker thread (the built dist/odoo/reader-thread.js): the copy must
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
    const result = await sync(engine, job(), [...MODEL_NAMES], "full");
    expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
    expect(await diffWithSource(h)).toEqual([]);
    const lines = result.models.find((m) => m.model === "account.move.line");
    expect(lines?.fetched).toBeGreaterThanOrEqual(h.sim.store.count("account.move.line"));
    // an incremental pass over the same data through the thread changes nothing
    const again = await sync(engine, job(), [...MODEL_NAMES], "incremental");
    expect(again.status).toBe("succeeded");
    expect(again.models.reduce((n, m) => n + m.upserted, 0)).toBe(0);
    expect(await diffWithSource(h)).toEqual([]);
  });

  it("lands the same data with two reader threads, a first sync included", async () => {
    const two = createThreadReader(simClient(), { heapMb: 128, threads: 2 });
    try {
      await h.store.pool.query("truncate odoo.account_move_line, odoo.account_move, odoo.res_partner");
      await h.store.pool.query("delete from etl.cursors");
      const result = await sync(engineWith(two), job(), [...MODEL_NAMES], "full");
      expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
      expect(await diffWithSource(h)).toEqual([]);
    } finally {
      await two.close();
    }
  });

  it("with two threads, each page is asked for and decoded on the other thread while its predecessor decodes", async () => {
    const source: Source = { client: h.odoo };
    const spec = specOf("account.move.line");
    const { columns } = resolveModel(spec, await fieldsGet(source, spec.model));
    const request: PageRequest = {
      model: spec.model,
      fields: columns.map((c) => c.name),
      columns,
      decimals: await currencyDecimals(source),
      limit: 100,
      copy: true,
    };
    // Two in-process readers stand for the threads, logging which one was asked for which page.
    const log: string[] = [];
    const slot = (name: string): PageReader => {
      const r = inProcessReader();
      return {
        ...r,
        full(req, afterId, src, onArrived) {
          log.push(`${name} asked ${afterId}`);
          return r.full(req, afterId, src, onArrived);
        },
      };
    };
    const both = decodeAhead([slot("A"), slot("B")]);
    const plain = inProcessReader();
    const pages: PageSummary[] = [];
    const expected: PageSummary[] = [];
    let afterId = 0;
    for (;;) {
      log.push(`engine asks ${afterId}`);
      const page = await both.full(request, afterId, source);
      pages.push(page);
      expected.push(await plain.full(request, afterId, source));
      if (page.done || page.lastId === null) break;
      afterId = page.lastId;
    }
    await both.close();
    // The same pages, byte for byte, as one reader reading them one after the other.
    expect(pages).toEqual(expected);
    expect(pages.length).toBeGreaterThan(5);
    // Each page after the first was asked for (on the other thread) before the engine asked for it.
    const firstAsk = (afterId: number) => log.findIndex((l) => l.endsWith(` asked ${afterId}`));
    const threadOf = (afterId: number) => log[firstAsk(afterId)]?.[0];
    const asked = pages.slice(0, -1).map((p) => p.lastId as number);
    for (const id of asked) expect(firstAsk(id)).toBeLessThan(log.indexOf(`engine asks ${id}`));
    for (let i = 1; i < asked.length; i++) expect(threadOf(asked[i]!)).not.toBe(threadOf(asked[i - 1]!));
  });

  it("takes a COPY page's bytes back to its thread, which writes the next page into them", async () => {
    const source: Source = { client: h.odoo };
    const model = "account.move.line";
    const { columns } = resolveModel(specOf(model), await fieldsGet(source, model));
    const request: PageRequest = {
      model,
      fields: columns.map((c) => c.name),
      columns,
      decimals: await currencyDecimals(source),
      limit: 200,
      copy: true,
    };
    const first = await reader.full(request, 0, source);
    if (first.encoded.format !== "copy") throw new Error("expected a COPY page");
    const capacity = first.encoded.data.buffer.byteLength;
    expect(capacity).toBeGreaterThanOrEqual(first.encoded.data.byteLength);
    expect(reader.recycle?.(first.encoded)).toBe(true);
    expect(first.encoded.data.buffer.byteLength).toBe(0); // moved back to the thread
    expect(reader.recycle?.(first.encoded)).toBe(false); // once only
    const second = await reader.full(request, first.lastId ?? 0, source);
    const expected = await inProcessReader().full(request, first.lastId ?? 0, source);
    if (second.encoded.format !== "copy" || expected.encoded.format !== "copy") throw new Error("COPY");
    expect(Buffer.from(second.encoded.data).equals(Buffer.from(expected.encoded.data))).toBe(true);
    expect(second.encoded.data.buffer.byteLength).toBe(capacity); // the same buffer, come back
  });

  it("fails the model with Odoo's error, by name, when the thread cannot read", async () => {
    const refused = createThreadReader(simClient({ password: "not the password", retry: false }));
    try {
      const result = await sync(engineWith(refused), job(), ["res.currency"], "full");
      expect(result.status).toBe("failed");
      expect(result.models[0]?.error).toMatch(/^OdooAuthError: /);
    } finally {
      await refused.close();
    }
  });

  it("starts a new thread after close, and close is idempotent", async () => {
    const r = createThreadReader(simClient());
    const e = engineWith(r);
    expect((await sync(e, job(), ["res.company"], "full")).status).toBe("succeeded");
    await r.close();
    await r.close();
    expect((await sync(e, job(), ["res.company"], "full")).status).toBe("succeeded");
    await r.close();
  });
});
