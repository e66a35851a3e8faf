import { MODEL_NAMES } from "@finanzas/ledger";
import { createLogger } from "@finanzas/logger";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sync } from "../src/jobs/sync.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

/*
 * PostgreSQL ending the worker's connections in the middle of a sync (an operator's
 * pg_terminate_backend, a failover): the batch in flight rolls back with its cursor, and the model
 * resumes from its committed cursor within the same run, which ends succeeded with the copy equal
 * to the source. (The fault suite, packages/faults, restarts and kills a server of its own under the
 * built worker.)
 */
describe("PostgreSQL connections lost mid-sync", () => {
  let h: Harness;
  beforeAll(async () => {
    // slow pages, so the sync is still writing when its connections are ended
    h = await harness(
      "etl_lost_connection",
      { scale: 0.1, performance: { latencyMs: 30 } },
      { pageSize: 50 },
    );
  });
  afterAll(() => h?.close());

  /** Ends every connection to this test's own database but the caller's; returns how many. */
  async function terminateOurBackends(): Promise<number> {
    const admin = new pg.Client({ connectionString: h.database.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>(
        `select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()`,
      );
      return rows[0]?.n ?? 0;
    } finally {
      await admin.end();
    }
  }

  it("resumes each model from its committed cursor in the same run", async () => {
    const lines: { msg?: string }[] = [];
    const logger = createLogger({
      service: "etl-worker",
      version: "test",
      level: "warn",
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    let done = false;
    const syncing = sync(h.engine, job({ logger }), [...MODEL_NAMES], "full").finally(() => {
      done = true;
    });
    syncing.catch(() => undefined); // awaited below
    // its connections ended four times while it runs (statements in flight fail, idle ones go),
    // fewer than the resumes a model is allowed in one run
    let terminated = 0;
    for (let round = 0; round < 4 && !done; round++) {
      await new Promise((r) => setTimeout(r, 700));
      terminated += await terminateOurBackends();
    }
    const result = await syncing;
    expect(terminated).toBeGreaterThan(0);
    expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
    const resumed = lines.filter((l) => l.msg?.startsWith("lost PostgreSQL under the model"));
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(await diffWithSource(h)).toEqual([]);
  });
});
