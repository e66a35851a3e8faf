import type { RunProgress } from "@finanzas/contracts";
import { MODEL_NAMES } from "@finanzas/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { syncRecords } from "../src/jobs/sync-records.js";
import { type Harness, harness, job } from "./helpers.js";

describe("a run's progress", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(
      "etl_progress",
      { version: 17, scale: 0.05 },
      { pageSize: 40, partitionMinRecords: 150 },
    );
  });
  afterAll(() => h?.close());

  /** Runs `fn` with a job that keeps every progress it publishes. */
  const watched = async (fn: (run: ReturnType<typeof job>) => Promise<unknown>) => {
    const reports: RunProgress[] = [];
    await fn(job({ progress: async (value) => void reports.push(value as RunProgress) }));
    return reports;
  };

  it("counts each record of a full sync once: records done over records expected, never above", async () => {
    const reports = await watched((run) => sync(h.engine, run, [...MODEL_NAMES], "full"));
    expect(reports.length).toBeGreaterThan(2);
    for (const report of reports)
      for (const [model, p] of Object.entries(report.models))
        if (p.expected !== undefined) expect(p.done ?? 0, model).toBeLessThanOrEqual(p.expected);
    const last = reports.at(-1)!;
    expect(last.phase).toBe("succeeded");
    for (const model of MODEL_NAMES) {
      const p = last.models[model]!;
      expect(p.status).toBe("succeeded");
      expect({ model, done: p.done, expected: p.expected }).toEqual({
        model,
        done: h.sim.store.count(model),
        expected: h.sim.store.count(model),
      });
    }
    // The catch-up after the pass re-reads the newest records: read twice, counted once.
    const company = last.models["res.company"]!;
    expect(company.fetched).toBeGreaterThan(company.done!);
    // Partitions: done is the sum over the ranges read at once.
    const lines = last.models["account.move.line"]!;
    expect(lines.done).toBe(h.sim.store.count("account.move.line"));
  });

  it("counts an incremental sync's window, and leaves a re-read of some records without a count", async () => {
    const partners = h.sim.store.ids("res.partner").slice(0, 7);
    h.sim.control.advanceClock(3600);
    h.sim.control.update("res.partner", partners, { comment: "progress" });
    const reports = await watched((run) => sync(h.engine, run, ["res.partner"], "incremental"));
    const p = reports.at(-1)!.models["res.partner"]!;
    // The window: the changed partners, and those the overlap takes in again.
    expect(p.expected).toBeGreaterThanOrEqual(7);
    expect(p.done).toBe(p.expected);
    const check = await watched((run) => syncRecords(h.engine, run, "res.partner", partners));
    const c = check.at(-1)!.models["res.partner"]!;
    expect(c.status).toBe("succeeded");
    expect(c.expected).toBeUndefined();
    h.sim.control.setClock(null);
  });
});
