import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { syncRecords } from "../src/jobs/sync-records.js";
import { createEtlMetrics } from "../src/metrics.js";
import { type Harness, harness, job, quietLogger } from "./helpers.js";

/** A sample from the text Prometheus scrapes: the first series named `name` carrying every label given. */
const value = async (registry: Registry, name: string, labels: Record<string, string>) => {
  for (const line of (await registry.metrics()).split("\n")) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const has = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as const),
    );
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) return Number(match[3]);
  }
  return undefined;
};

describe("etl metrics (Prometheus)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("etl_metrics", { version: 17 });
  });
  afterAll(() => h?.close());

  it("count each model's runs and rows as the run history does, and expose the last success from etl.cursors", async () => {
    const registry = new Registry();
    const engine = h.engineWith({ metrics: createEtlMetrics(registry, h.store.db, quietLogger) });
    // Nothing synced yet: no last-success series, so absent() alerts fire for a worker that never synced.
    expect(await value(registry, "etl_last_success_timestamp_seconds", {})).toBeUndefined();

    const result = await sync(engine, job(), ["res.currency", "account.journal"], "incremental");
    expect(result.status).toBe("succeeded");
    const history = await h.store.db
      .selectFrom("etl.run_models")
      .selectAll()
      .where("run_id", "=", result.runId)
      .execute();
    expect(history).toHaveLength(2);
    for (const row of history) {
      expect(row.fetched).toBeGreaterThan(0);
      for (const kind of ["fetched", "upserted", "deleted"] as const)
        expect(await value(registry, "etl_rows_total", { model: row.model, kind })).toBe(row[kind]);
      expect(
        await value(registry, "etl_model_runs_total", {
          model: row.model,
          job: "sync",
          mode: "incremental",
          status: "succeeded",
        }),
      ).toBe(1);
      expect(
        await value(registry, "etl_model_duration_seconds_count", {
          model: row.model,
          job: "sync",
          mode: "incremental",
        }),
      ).toBe(1);
    }
    const cursors = await h.store.db.selectFrom("etl.cursors").selectAll().execute();
    const journal = cursors.find((c) => c.model === "account.journal");
    expect(journal?.last_success_at).toBeTruthy();
    const lastSuccess = await value(registry, "etl_last_success_timestamp_seconds", {
      model: "account.journal",
    });
    expect(lastSuccess).toBe(new Date(journal!.last_success_at!).getTime() / 1000);
    expect(await value(registry, "etl_cursor_timestamp_seconds", { model: "account.journal" })).toBe(
      new Date(journal!.write_date!).getTime() / 1000,
    );
    // Models never synced have no series (and the text format carries the gauges' help either way).
    expect(
      await value(registry, "etl_last_success_timestamp_seconds", { model: "account.move.line" }),
    ).toBeUndefined();
    expect(await registry.metrics()).toContain("# TYPE etl_last_success_timestamp_seconds gauge");

    // A few records re-read now is not a sync of the model: the last success (and the lag) stay.
    const ids = h.sim.store.ids("account.journal").slice(0, 2);
    const reread = await syncRecords(engine, job(), "account.journal", ids);
    expect(reread.status).toBe("succeeded");
    expect(
      await value(registry, "etl_model_runs_total", {
        model: "account.journal",
        job: "sync-records",
        status: "succeeded",
      }),
    ).toBe(1);
    expect(await value(registry, "etl_rows_total", { model: "account.journal", kind: "fetched" })).toBe(
      history.find((r) => r.model === "account.journal")!.fetched + 2,
    );
    expect(await value(registry, "etl_last_success_timestamp_seconds", { model: "account.journal" })).toBe(
      lastSuccess,
    );
  });
});
