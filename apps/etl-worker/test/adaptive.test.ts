import {
  AdaptiveConcurrency,
  createOdooClient,
  type OdooClient,
  type OdooClientOptions,
  SharedLimiter,
} from "@finanzas/odoo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine/index.js";
import { sync } from "../src/jobs/sync.js";
import type { PageReader } from "../src/odoo/pages.js";
import { createThreadReader } from "../src/odoo/thread-reader.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

/**
 * The service's wiring (main.ts): one limiter for the main thread's and the reader thread's requests,
 * moved by the answers the reader thread reports. The simulator plays a server that gets busy
 * (fewer workers free) or refuses, then recovers.
 */
describe("parallelism that follows the server", () => {
  let h: Harness;
  let odoo: OdooClient;
  let reader: PageReader;
  let engine: Engine;
  const limiter = SharedLimiter.create(4);
  const changes: { from: number; to: number; reason: string }[] = [];
  const adaptive = new AdaptiveConcurrency(limiter, { onChange: (c) => changes.push(c) });
  const models = ["account.move.line", "account.move"];

  beforeAll(async () => {
    h = await harness(
      "etl_adaptive",
      { version: 17, scale: 0.1, performance: { latencyMs: 150, workers: 4 } },
      { pageSize: 40, partitionMinRecords: 150, odooConcurrency: 4 },
    );
    const options: OdooClientOptions = {
      url: h.sim.url,
      db: h.sim.database,
      username: h.sim.username,
      password: h.sim.password,
      limiter,
      onAnswer: (sample) => adaptive.observe(sample),
      retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 100 },
    };
    odoo = createOdooClient(options);
    reader = createThreadReader(options, { heapMb: 128 });
    engine = h.engineWith({ odoo, reader });
  });
  afterAll(async () => {
    await reader?.close();
    await odoo?.close();
    await h?.close();
  });

  it("keeps its parallelism while answers keep their speed", async () => {
    h.sim.control.resetStats();
    const result = await sync(engine, job(), models, "full");
    expect(result.status).toBe("succeeded");
    expect(h.sim.control.getStats().concurrency.peakInFlight).toBe(4);
    expect(changes.filter((c) => c.to < c.from).length).toBeLessThanOrEqual(1);
  }, 60_000);

  it("lowers it when the server's workers are taken, and raises it back once they are free", async () => {
    changes.length = 0;
    // Three of the four workers busy elsewhere: answers wait in line.
    h.sim.control.setPerformance({ workers: 1 });
    h.sim.control.resetStats();
    const busy = await sync(engine, job(), models, "full");
    expect(busy.status).toBe("succeeded");
    const lowered = changes.filter((c) => c.to < c.from);
    expect(lowered.length).toBeGreaterThan(0);
    expect(Math.min(...changes.map((c) => c.to))).toBeLessThanOrEqual(2);
    expect(lowered[0]!.reason).toMatch(/slower than usual/);
    // Fewer requests in line at the server than the ETL's maximum would have put there.
    expect(h.sim.control.getStats().concurrency.peakInFlight).toBeLessThanOrEqual(4);

    h.sim.control.setPerformance({ workers: 4 });
    changes.length = 0;
    const free = await sync(engine, job(), models, "full");
    expect(free.status).toBe("succeeded");
    expect(changes.some((c) => c.to > c.from)).toBe(true);
    expect(changes.some((c) => c.to === 4)).toBe(true);
    expect(await diffWithSource(h, models)).toEqual([]);
  }, 90_000);

  it("halves it when the server refuses requests, still copies everything, and recovers after", async () => {
    changes.length = 0;
    // Two workers and no line: a third request at once is refused (503), as at a connection limit.
    h.sim.control.setPerformance({ workers: 2, queueLimit: 0 });
    h.sim.control.resetStats();
    const refused = await sync(engine, job(), models, "full");
    expect(refused.status, JSON.stringify(refused.models.filter((m) => m.error))).toBe("succeeded");
    expect(h.sim.control.getStats().concurrency.refused).toBeGreaterThan(0);
    expect(adaptive.state().refusals).toBeGreaterThan(0);
    expect(changes.some((c) => c.reason === "the server refused a request")).toBe(true);
    // At most two requests in line at the server once it started refusing.
    const refusedFrom = changes.findIndex((c) => c.reason === "the server refused a request");
    expect(changes[refusedFrom]!.to).toBeLessThanOrEqual(2);
    expect(await diffWithSource(h, models)).toEqual([]);

    h.sim.control.setPerformance({ workers: 4, queueLimit: null });
    changes.length = 0;
    const after = await sync(engine, job(), models, "full");
    expect(after.status).toBe("succeeded");
    expect(limiter.limit === 4 || changes.some((c) => c.to === 4)).toBe(true);
  }, 90_000);
});
