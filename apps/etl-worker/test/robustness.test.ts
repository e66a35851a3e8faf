import { MODEL_NAMES } from "@finanzas/ledger";
import { OdooTransportError } from "@finanzas/odoo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

describe("Odoo answering 502s and resets mid-sync", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_faults", { version: 16, scale: 0.05 }, { pageSize: 50 });
  });
  afterAll(() => h?.close());

  it("retries inside the run and converges", async () => {
    let pages = 0;
    let injections = 0;
    const run = job({
      progress: async () => {
        // Every few progress reports, the proxy in front of Odoo misbehaves again: a 502 and a
        // reset, once the previous ones were met. Faults piling up faster than requests meet them
        // (progress reports bunch up on a loaded machine) could fail one call more times in a row
        // than the client's 6 attempts, a server no retry policy rides out.
        if (++pages % 3 !== 0) return;
        const met = h.sim.control.getStats().faultsInjected;
        if ((met.http502 ?? 0) + (met.reset ?? 0) < 2 * injections) return;
        injections++;
        h.sim.control.injectFault({ kind: "http502", count: 1, path: "/xmlrpc/2/object" });
        h.sim.control.injectFault({ kind: "reset", count: 1, path: "/xmlrpc/2/object" });
      },
    });
    h.sim.control.injectFault({ kind: "http504", count: 3 });
    const result = await sync(h.engine, run, [...MODEL_NAMES], "full");
    const injected = h.sim.control.getStats().faultsInjected;
    h.sim.control.clearFaults();
    expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
    expect((injected.http502 ?? 0) + (injected.reset ?? 0)).toBeGreaterThan(10);
    expect(await diffWithSource(h)).toEqual([]);
  });

  it("records a model that still fails, and the other models still sync; the engine adds no retries", async () => {
    h.sim.control.clearFaults();
    // Every call about journal items fails as the client reports a call whose retries ran out.
    let attempts = 0;
    const failing = new Proxy(h.odoo, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (args[0] === "account.move.line") {
            attempts++;
            return Promise.reject(
              new OdooTransportError(
                "account.move.line: POST /xmlrpc/2/object failed (HTTP 502): 502 Bad Gateway",
                {
                  status: 502,
                  retryable: true,
                },
              ),
            );
          }
          return value.apply(target, args);
        };
      },
    });
    const partial = h.engineWith({ odoo: failing });
    const result = await sync(
      partial,
      job(),
      ["res.partner", "account.move.line", "account.move"],
      "incremental",
    );
    // The client's retries are the only ones: the engine never calls again on top of them.
    expect(attempts).toBe(1);
    expect(result.status).toBe("failed");
    const byModel = Object.fromEntries(result.models.map((m) => [m.model, m]));
    expect(byModel["account.move.line"]?.status).toBe("failed");
    expect(byModel["account.move.line"]?.error).toMatch(/502/);
    expect(byModel["res.partner"]?.status).toBe("succeeded");
    expect(byModel["account.move"]?.status).toBe("succeeded");
    const { rows } = await h.store.pool.query("select status, error from etl.runs where id = $1", [
      result.runId,
    ]);
    expect(rows[0].status).toBe("failed");
    expect(rows[0].error).toMatch(/account\.move\.line: .*502/);
  });
});

describe("two concurrent sync requests", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_concurrent", { version: 18, scale: 0.05 }, { pageSize: 50, lockTtlSeconds: 5 });
  });
  afterAll(() => h?.close());

  it("never sync the same model at once, and both complete", async () => {
    // Two replicas (two engines on the same database), a slow Odoo so the runs overlap in time.
    const other = h.engineWith({});
    h.sim.control.injectFault({ kind: "slow", delayMs: 5 });
    const [a, b] = await Promise.all([
      sync(h.engine, job(), [...MODEL_NAMES], "full"),
      sync(other, job(), [...MODEL_NAMES].reverse(), "full"),
    ]);
    h.sim.control.clearFaults();
    expect([a.status, b.status]).toEqual(["succeeded", "succeeded"]);
    const { rows } = await h.store.pool.query<{
      model: string;
      run_id: number;
      started_at: Date;
      finished_at: Date;
    }>(
      "select model, run_id, started_at, finished_at from etl.run_models where run_id = any($1) order by model, started_at",
      [[a.runId, b.runId]],
    );
    expect(rows).toHaveLength(2 * MODEL_NAMES.length);
    for (const model of MODEL_NAMES) {
      const [first, second] = rows.filter((r) => r.model === model);
      expect(first && second).toBeTruthy();
      expect(first!.run_id).not.toBe(second!.run_id);
      expect(second!.started_at.getTime(), model).toBeGreaterThanOrEqual(first!.finished_at.getTime());
    }
    expect(await diffWithSource(h)).toEqual([]);
    const locks = await h.store.pool.query("select count(*)::int as n from etl.locks");
    expect(locks.rows[0].n).toBe(0);
  });
});
