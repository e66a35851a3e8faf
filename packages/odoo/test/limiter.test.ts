/**
 * Requests in flight against the simulator, counted by the simulator: a limiter shared by two
 * clients caps them together, and an adaptive limit follows a server that gets busy or refuses.
 */
import { type OdooSim, startOdooSim } from "@finanzas/odoo-sim";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AdaptiveConcurrency,
  type AnswerSample,
  createOdooClient,
  type OdooClient,
  type OdooClientOptions,
  SharedLimiter,
} from "../src/index.js";

let sim: OdooSim;
const clients: OdooClient[] = [];
beforeAll(async () => {
  sim = await startOdooSim({ version: 17, scale: 0.05, seed: 5 });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.close();
});
afterEach(() => {
  sim.control.setPerformance({ latencyMs: 0, perRecordMs: 0, workers: 0, queueLimit: null });
  sim.control.clearFaults();
});

const client = (options: Partial<OdooClientOptions>) => {
  const c = createOdooClient({
    url: sim.url,
    db: sim.database,
    username: sim.username,
    password: sim.password,
    protocol: "xmlrpc",
    retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
  clients.push(c);
  return c;
};

const page = (c: OdooClient) =>
  c.searchRead("account.move.line", [], { fields: ["name", "debit"], limit: 50, order: "id asc" });

describe("a shared limiter", () => {
  it("caps the requests two clients have in flight together, as the server counts them", async () => {
    const limiter = SharedLimiter.create(2);
    const samples: AnswerSample[] = [];
    const a = client({ limiter, maxConcurrency: 8, onAnswer: (s) => samples.push(s) });
    const b = client({ limiter, maxConcurrency: 8 });
    await Promise.all([a.authenticate(), b.authenticate()]);
    sim.control.setPerformance({ latencyMs: 20 });
    sim.control.resetStats();
    const pages = await Promise.all(Array.from({ length: 12 }, (_, i) => page(i % 2 ? a : b)));
    expect(pages.every((p) => p.length === 50)).toBe(true);
    expect(sim.control.getStats().concurrency.peakInFlight).toBe(2);
    const read = samples.filter((s) => s.call === "account.move.line.search_read");
    expect(read).toHaveLength(6);
    for (const s of read) {
      expect(s.status).toBe(200);
      expect(s.ms).toBeGreaterThanOrEqual(19);
      expect(s.bytes).toBeGreaterThan(1000);
    }
  });

  it("tells a refusal apart: status 503 or 429 in the sample, and the call retried", async () => {
    const samples: AnswerSample[] = [];
    const c = client({ onAnswer: (s) => samples.push(s) });
    await c.authenticate();
    samples.length = 0;
    sim.control.injectFault({ kind: "http503", count: 1 });
    sim.control.injectFault({ kind: "http429", count: 1 });
    expect(await page(c)).toHaveLength(50);
    expect(samples.map((s) => s.status)).toEqual([503, 429, 200]);
  });
});

describe("an adaptive limit against a server that gets busy", () => {
  it("falls when the server's workers are taken or it refuses, and climbs back when it recovers", async () => {
    const limiter = SharedLimiter.create(4);
    const adaptive = new AdaptiveConcurrency(limiter, {
      onChange: (x) => process.env.DEBUG_LIMIT && console.log(JSON.stringify(x)),
    });
    const c = client({ limiter, onAnswer: (s) => adaptive.observe(s) });
    await c.authenticate();
    /** Keeps `limit` pages in flight (as a sync does) for `ms`; returns the limits seen. */
    const load = async (ms: number) => {
      const seen: number[] = [];
      const until = performance.now() + ms;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (performance.now() < until) {
            await page(c);
            seen.push(limiter.limit);
          }
        }),
      );
      return seen;
    };
    sim.control.setPerformance({ latencyMs: 150, workers: 4 });
    expect((await load(1200)).every((l) => l === 4)).toBe(true);
    // Three of the four workers are busy with other clients.
    sim.control.setPerformance({ workers: 1 });
    const busy = await load(4000);
    expect(Math.min(...busy)).toBeLessThanOrEqual(2);
    expect(adaptive.state().lowered).toBeGreaterThan(0);
    sim.control.setPerformance({ workers: 4 });
    const free = await load(4000);
    expect(free.at(-1)).toBe(4);
    // A server at its connection limit refuses what does not fit: the limit halves at once.
    sim.control.setPerformance({ workers: 2, queueLimit: 0 });
    await load(1000);
    expect(adaptive.state().refusals).toBeGreaterThan(0);
    expect(limiter.limit).toBeLessThanOrEqual(3);
  }, 30_000);
});
