import { MODEL_NAMES } from "@finanzas/ledger";
import { createOdooClient, type OdooClientOptions, SharedLimiter } from "@finanzas/odoo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { createThreadReader } from "../src/odoo/thread-reader.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

/** Small pages and a low threshold: every model above 150 records is read in partitions. */
const PARTITIONED = { pageSize: 40, partitionMinRecords: 150, odooConcurrency: 4 };

describe.each([16, 17, 18, 19] as const)("partitioned full passes on Odoo %i", (version) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(`etl_parts_${version}`, { version, scale: 0.05 }, PARTITIONED);
  });
  afterAll(() => h?.close());

  it("copy exactly the source, reading a large model's id ranges at once", async () => {
    h.sim.control.setPerformance({ latencyMs: 15 });
    h.sim.control.resetStats();
    const result = await sync(h.engine, job(), ["account.move.line"], "full");
    const stats = h.sim.control.getStats();
    expect(result.status, JSON.stringify(result.models)).toBe("succeeded");
    // One model alone: reading one page after another would keep one request in flight.
    expect(stats.concurrency.peakInFlight).toBeGreaterThanOrEqual(3);
    expect(stats.concurrency.peakInFlight).toBeLessThanOrEqual(4);
    // the partitions' bounds: one search at an offset each
    expect(stats.byModelMethod["account.move.line.search"]).toBeGreaterThanOrEqual(3);
    const all = await sync(h.engine, job(), [...MODEL_NAMES], "full");
    h.sim.control.setPerformance({ latencyMs: 0 });
    expect(all.status, JSON.stringify(all.models.filter((m) => m.error))).toBe("succeeded");
    expect(await diffWithSource(h)).toEqual([]);
    const { rows } = await h.store.pool.query(
      "select count(*)::int as n from etl.partitions union all select count(*)::int from etl.cursors where full_last_id is not null",
    );
    expect(rows.map((r) => r.n)).toEqual([0, 0]);
  });

  it("catch up a bulk change in write_date ranges read at once, bursts and late commits included", async () => {
    const { control, store } = h.sim;
    const ids = store.ids("account.move.line");
    const base = Date.now() + 60_000;
    const at = (minutes: number, ms = 0) => new Date(base + minutes * 60_000 + ms);
    // 300 journal items changed in 20 transactions a minute apart (Odoo down for a while) ...
    for (let t = 0; t < 20; t++)
      control.update(
        "account.move.line",
        ids.slice(t * 15, t * 15 + 15),
        { name: `bulk ${t}` },
        { at: at(t) },
      );
    // ... one transaction touching 90 items (more than two pages) within one second ...
    control.burst("account.move.line", ids.slice(300, 390), { name: "burst" }, { at: at(10, 500) });
    // ... and a transaction that started before most of them, committed last.
    control.update("account.move.line", ids.slice(390, 395), { name: "late" }, { at: at(2, 250) });
    h.sim.control.setPerformance({ latencyMs: 15 });
    h.sim.control.resetStats();
    const result = await sync(h.engine, job(), ["account.move.line"], "incremental");
    const { concurrency } = h.sim.control.getStats();
    h.sim.control.setPerformance({ latencyMs: 0 });
    expect(result.status, JSON.stringify(result.models)).toBe("succeeded");
    expect(concurrency.peakInFlight).toBeGreaterThanOrEqual(3);
    expect(await diffWithSource(h, ["account.move.line"])).toEqual([]);
    const cursor = await h.store.pool.query(
      "select extract(epoch from write_date)::int as s from etl.cursors where model = 'account.move.line'",
    );
    expect(cursor.rows[0].s).toBe(Math.floor(at(19).getTime() / 1000));
  });
});

describe("a partitioned full pass interrupted", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_parts_resume", { version: 17, scale: 0.2 }, PARTITIONED);
  });
  afterAll(() => h?.close());

  const lines = async () =>
    (
      await h.store.pool.query(
        "select count(*)::int as n, count(distinct id)::int as d from odoo.account_move_line",
      )
    ).rows[0] as { n: number; d: number };

  it("resumes every partition where it stopped: no gap, no duplicate, the cursor moved only at the end", async () => {
    const total = h.sim.store.count("account.move.line");
    h.sim.control.setPerformance({ latencyMs: 20 });
    const stop = new AbortController();
    const first = sync(h.engine, job({ signal: stop.signal }), ["account.move.line"], "full");
    const deadline = Date.now() + 20_000;
    while ((await lines()).n < total / 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    stop.abort(new Error("the worker stopped"));
    const interrupted = await first;
    expect(interrupted.status).toBe("failed");

    const parts = await h.store.pool.query(
      "select part, after_id, to_id, last_id, expected, done, finished_at from etl.partitions where model = 'account.move.line' order by part",
    );
    expect(parts.rows.length).toBe(4);
    // Every partition moved on its own, and their ranges tile the ids.
    expect(parts.rows.filter((p) => p.last_id > p.after_id).length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < parts.rows.length; i++) expect(parts.rows[i].after_id).toBe(parts.rows[i - 1].to_id);
    expect(parts.rows.at(-1).to_id).toBeNull();
    const expected = parts.rows.reduce((s, p) => s + p.expected, 0);
    expect(expected).toBe(total);
    const done = parts.rows.reduce((s, p) => s + p.done, 0);
    const copied = await lines();
    expect(done).toBe(copied.n);
    expect(copied.n).toBeLessThan(total);
    const cursor = await h.store.pool.query(
      "select write_date, full_last_id from etl.cursors where model = 'account.move.line'",
    );
    // In progress; the incremental cursor has not moved.
    expect(cursor.rows[0]).toMatchObject({ write_date: null, full_last_id: 0 });

    // Meanwhile Odoo changes, in a range already copied and in one not yet read.
    const ids = h.sim.store.ids("account.move.line");
    h.sim.control.update("account.move.line", [ids[0]!, ids.at(-1)!], { name: "changed meanwhile" });

    h.sim.control.resetStats();
    const resumed = await sync(h.engine, job(), ["account.move.line"], "incremental");
    h.sim.control.setPerformance({ latencyMs: 0 });
    expect(resumed.status, JSON.stringify(resumed.models)).toBe("succeeded");
    // It read what was left (and the catch-up's overlap), not everything again.
    expect(resumed.models[0]!.fetched).toBeLessThan(total - copied.n + 200);
    expect(h.sim.control.getStats().byModelMethod["account.move.line.search"] ?? 0).toBeLessThanOrEqual(1);
    const after = await lines();
    expect(after).toEqual({ n: total, d: total });
    expect(await diffWithSource(h, ["account.move.line"])).toEqual([]);
    const left = await h.store.pool.query("select count(*)::int as n from etl.partitions");
    expect(left.rows[0].n).toBe(0);
    const moved = await h.store.pool.query(
      "select write_date, full_last_id from etl.cursors where model = 'account.move.line'",
    );
    expect(moved.rows[0].full_last_id).toBeNull();
    expect(moved.rows[0].write_date).not.toBeNull();
  }, 60_000);

  it("an incremental pass in ranges, interrupted, loses nothing: its cursor waits for the ranges before it", async () => {
    const { control, store } = h.sim;
    const ids = store.ids("account.move.line");
    const base = Date.now() + 3_600_000;
    // 1 200 journal items changed in 40 transactions a minute apart.
    for (let t = 0; t < 40; t++)
      control.update(
        "account.move.line",
        ids.slice(t * 30, t * 30 + 30),
        { name: `outage ${t}` },
        {
          at: new Date(base + t * 60_000),
        },
      );
    const cursorOf = async () =>
      Number(
        (
          await h.store.pool.query(
            "select extract(epoch from write_date)::int as s from etl.cursors where model = 'account.move.line'",
          )
        ).rows[0].s,
      );
    const before = await cursorOf();
    h.sim.control.setPerformance({ latencyMs: 25 });
    const stop = new AbortController();
    const first = sync(h.engine, job({ signal: stop.signal }), ["account.move.line"], "incremental");
    const changed = async () =>
      (
        await h.store.pool.query(
          "select count(*)::int as n from odoo.account_move_line where name like 'outage %'",
        )
      ).rows[0].n as number;
    const deadline = Date.now() + 20_000;
    while ((await changed()) < 400 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stop.abort(new Error("the worker stopped"));
    expect((await first).status).toBe("failed");
    const copied = await changed();
    expect(copied).toBeLessThan(1200);
    // The ranges after the first moved on too, but the cursor stays below what is not committed.
    const cursor = await cursorOf();
    expect(cursor).toBeGreaterThanOrEqual(before);
    const firstMissing = (
      await h.store.pool.query(
        "select min(t) as t from generate_series(0, 39) t where not exists (select 1 from odoo.account_move_line where name = 'outage ' || t)",
      )
    ).rows[0].t as number | null;
    if (firstMissing !== null) expect(cursor).toBeLessThan(Math.floor((base + firstMissing * 60_000) / 1000));
    const again = await sync(h.engine, job(), ["account.move.line"], "incremental");
    h.sim.control.setPerformance({ latencyMs: 0 });
    expect(again.status).toBe("succeeded");
    expect(await changed()).toBe(1200);
    expect(await diffWithSource(h, ["account.move.line"])).toEqual([]);
    expect(await cursorOf()).toBe(Math.floor((base + 39 * 60_000) / 1000));
  }, 60_000);
});

describe("the cap on requests in flight", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_parts_cap", { version: 18, scale: 0.1 }, { ...PARTITIONED, odooConcurrency: 3 });
  });
  afterAll(() => h?.close());

  it("holds across every model of a job, the reader thread's requests and the main thread's together", async () => {
    // The service's wiring: one limiter shared by the main thread's client and the reader thread's.
    const limiter = SharedLimiter.create(3);
    const options: OdooClientOptions = {
      url: h.sim.url,
      db: h.sim.database,
      username: h.sim.username,
      password: h.sim.password,
      limiter,
      retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
    };
    const odoo = createOdooClient(options);
    const reader = createThreadReader(options, { heapMb: 128 });
    try {
      const engine = h.engineWith({ odoo, reader });
      h.sim.control.setPerformance({ latencyMs: 10, perRecordMs: 0.05 });
      h.sim.control.resetStats();
      const result = await sync(engine, job(), [...MODEL_NAMES], "full");
      const { concurrency } = h.sim.control.getStats();
      h.sim.control.setPerformance({ latencyMs: 0, perRecordMs: 0 });
      expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
      expect(concurrency.peakInFlight).toBe(3);
      expect(await diffWithSource(h)).toEqual([]);
    } finally {
      await reader.close();
      await odoo.close();
    }
  }, 60_000);
});

describe("a reader thread that dies mid-request", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_parts_dead", { version: 18, scale: 0.1 }, PARTITIONED);
  });
  afterAll(() => h?.close());

  it("gives its slots back: the next sync has every one of ODOO_MAX_CONCURRENCY", async () => {
    // The service's wiring: one limiter for the main thread's client and the reader thread's.
    const limiter = SharedLimiter.create(4);
    const options: OdooClientOptions = {
      url: h.sim.url,
      db: h.sim.database,
      username: h.sim.username,
      password: h.sim.password,
      limiter,
      retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
    };
    const odoo = createOdooClient(options);
    const reader = createThreadReader(options, { heapMb: 128 });
    try {
      const engine = h.engineWith({ odoo, reader });
      // Slow enough that the thread always has requests in flight or waiting.
      h.sim.control.setPerformance({ latencyMs: 150, workers: 4 });
      const first = sync(engine, job(), ["account.move.line"], "full");
      const deadline = Date.now() + 20_000;
      while (h.sim.control.getStats().concurrency.inFlight < 4 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(h.sim.control.getStats().concurrency.inFlight).toBe(4);
      expect(limiter.inFlight).toBe(4);
      await reader.terminate(); // as a crash would: mid-request, its slots held
      // What the dead thread owed fails (or is read again on a new thread); either way the run ends.
      await first;
      expect(limiter.inFlight).toBe(0);
      expect(limiter.max - limiter.inFlight).toBe(4);

      h.sim.control.resetStats();
      const again = await sync(engine, job(), ["account.move.line"], "full");
      const { concurrency } = h.sim.control.getStats();
      h.sim.control.setPerformance({ latencyMs: 0, workers: 0 });
      expect(again.status, JSON.stringify(again.models)).toBe("succeeded");
      expect(concurrency.peakInFlight).toBe(4);
      expect(limiter.inFlight).toBe(0);
      expect(await diffWithSource(h, ["account.move.line"])).toEqual([]);
    } finally {
      h.sim.control.setPerformance({ latencyMs: 0, workers: 0 });
      await reader.close();
      await odoo.close();
    }
  }, 90_000);
});
