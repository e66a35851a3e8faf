import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OdooSim, startOdooSim } from "../src/index.js";
import { kw } from "./helpers.js";

let sim: OdooSim;
beforeAll(async () => {
  sim = await startOdooSim({ version: 17, scale: 0.05, seed: 4 });
});
afterAll(() => sim.close());
afterEach(() => {
  sim.control.setPerformance({
    latencyMs: 0,
    perRecordMs: 0,
    workers: 0,
    queueLimit: null,
    refuseStatus: 503,
  });
  sim.control.clearFaults();
  sim.control.resetStats();
});

const page = (limit: number) =>
  kw(sim.url, "account.move.line", "search_read", [[]], { fields: ["name"], limit, order: "id asc" });

/** Resolves with how long `fn` took, in ms. */
const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};

describe("a real server's cost: latency and workers", () => {
  it("holds each answer for the fixed latency plus the time per record read", async () => {
    sim.control.setPerformance({ latencyMs: 60 });
    expect(await timed(() => page(10))).toBeGreaterThanOrEqual(55);
    sim.control.setPerformance({ latencyMs: 10, perRecordMs: 5 });
    // 200 records at 5 ms each, plus 10 ms
    expect(await timed(() => page(200))).toBeGreaterThanOrEqual(1000);
    // a count reads no record: the fixed part only (bounds wide enough for a loaded machine)
    expect(await timed(() => kw(sim.url, "account.move.line", "search_count", [[]]))).toBeLessThan(500);
  });

  it("serves as many requests at once as it has workers; the rest wait in line, and the peaks are counted", async () => {
    // long enough that all six arrive while the first two are served, even on a loaded machine
    sim.control.setPerformance({ latencyMs: 400, workers: 2 });
    sim.control.resetStats();
    const ms = await timed(() => Promise.all(Array.from({ length: 6 }, () => page(5))));
    // six requests, two at a time, 400 ms each: three rounds
    expect(ms).toBeGreaterThanOrEqual(3 * 400 - 10);
    const { concurrency } = sim.control.getStats();
    expect(concurrency).toMatchObject({ peakInFlight: 6, peakBusy: 2, peakQueued: 4, refused: 0 });
    expect(concurrency).toMatchObject({ inFlight: 0, busy: 0, queued: 0 });
  });

  it("reports how late its thread ran since the stats were reset (a busy simulator answers late by that much)", async () => {
    sim.control.resetStats();
    await new Promise((r) => setTimeout(r, 50));
    const before = sim.control.getStats().eventLoopDelay;
    expect(before).toBeDefined();
    // the thread blocked for 150 ms: every timer and answer due meanwhile ran that much late
    const until = performance.now() + 150;
    while (performance.now() < until) {}
    await new Promise((r) => setTimeout(r, 30));
    const after = sim.control.getStats().eventLoopDelay;
    expect(after?.maxMs).toBeGreaterThanOrEqual(100);
    expect(after?.p99Ms).toBeLessThanOrEqual(after?.maxMs ?? 0);
    sim.control.resetStats();
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.control.getStats().eventLoopDelay?.maxMs).toBeLessThan(100);
  });

  it("with unlimited workers, every request is served at once", async () => {
    sim.control.setPerformance({ latencyMs: 400 });
    sim.control.resetStats();
    const ms = await timed(() => Promise.all(Array.from({ length: 6 }, () => page(5))));
    expect(ms).toBeLessThan(2 * 400);
    expect(sim.control.getStats().concurrency).toMatchObject({ peakInFlight: 6, peakBusy: 6, peakQueued: 0 });
  });

  it("refuses requests beyond its queue limit with 503 (or 429), as a proxy at its connection limit", async () => {
    sim.control.setPerformance({ latencyMs: 800, workers: 1, queueLimit: 1 });
    const post = () =>
      fetch(`${sim.url}/jsonrpc`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "call",
          id: 1,
          params: {
            service: "object",
            method: "execute_kw",
            args: ["odoo", 2, "admin", "res.partner", "search_count", [[]], {}],
          },
        }),
      });
    const answers = await Promise.all(Array.from({ length: 4 }, post));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503]);
    const refused = answers.find((a) => a.status === 503)!;
    expect(refused.headers.get("content-type")).toMatch(/html/);
    expect(await refused.text()).toContain("503 Service Temporarily Unavailable");
    expect(sim.control.getStats().concurrency.refused).toBe(2);
    sim.control.setPerformance({ refuseStatus: 429 });
    const again = await Promise.all(Array.from({ length: 3 }, post));
    expect(again.map((a) => a.status).sort()).toEqual([200, 200, 429]);
  });

  it("adding workers takes the requests waiting in line at once", async () => {
    sim.control.setPerformance({ latencyMs: 1000, workers: 1 });
    const started = performance.now();
    const all = Promise.all(Array.from({ length: 4 }, () => page(1)));
    await new Promise((r) => setTimeout(r, 200));
    sim.control.setPerformance({ workers: 4 });
    await all;
    // one worker would take 4 × 1 000 ms
    expect(performance.now() - started).toBeLessThan(2_600);
  });

  it("is set and read over the control API, and faults can answer 429 and 503", async () => {
    const set = await fetch(`${sim.url}/__sim/performance`, {
      method: "POST",
      body: JSON.stringify({ latencyMs: 5, perRecordMs: 0.5, workers: 3 }),
    });
    expect(await set.json()).toMatchObject({ latencyMs: 5, perRecordMs: 0.5, workers: 3, refuseStatus: 503 });
    const got = await (await fetch(`${sim.url}/__sim/performance`)).json();
    expect(got).toMatchObject({ latencyMs: 5, perRecordMs: 0.5, workers: 3 });
    const bad = await fetch(`${sim.url}/__sim/performance`, {
      method: "POST",
      body: JSON.stringify({ workers: -1 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/workers must be an integer ≥ 0/);

    sim.control.injectFault({ kind: "http429", count: 1 });
    sim.control.injectFault({ kind: "http503", count: 1, path: "/jsonrpc" });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${sim.url}/jsonrpc`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "call",
          id: 1,
          params: { service: "common", method: "version", args: [] },
        }),
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([429, 503, 200]);
    expect(sim.control.getStats().faultsInjected).toMatchObject({ http429: 1, http503: 1 });
  });
});

describe("odoo-sim CLI", () => {
  const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
  const start = (args: string[]) =>
    new Promise<{ output: string; code: number | null }>((resolve) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", cli, "--port", "0", "--scale", "0.01", ...args],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let output = "";
      const onData = (c: Buffer) => {
        output += c;
        if (output.includes("control API")) child.kill("SIGTERM");
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("exit", (code) => resolve({ output, code }));
    });

  it("takes the latency and the workers from its flags, and refuses bad ones", async () => {
    const ok = await start(["--latency-ms", "300", "--per-record-ms", "0.2", "--workers", "4"]);
    expect(ok.output).toContain("answers: 300 ms + 0.2 ms per record read, 4 workers");
    const bad = await start(["--workers", "1.5"]);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/workers must be an integer ≥ 0/);
  }, 30_000);
});
