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

  /**
   * Waits (up to 3 s) until one of the sync's connections is writing a page (a COPY or an upsert
   * into odoo.* running, or a transaction open between its statements: a model's batch in flight,
   * which is lease check, write, cursor in one transaction), then ends every connection to this
   * test's own database but the caller's; returns how many were ended while a page was being
   * written (0: none was seen). Ending them at a random instant instead may hit only idle
   * connections on a loaded machine, and then no batch fails.
   */
  async function terminateOurBackendsMidWrite(): Promise<number> {
    const admin = new pg.Client({ connectionString: h.database.url });
    await admin.connect();
    try {
      const deadline = Date.now() + 3_000;
      while (Date.now() < deadline) {
        const { rows } = await admin.query<{ writing: number; ended: number }>(
          `with ours as (
             select pid, state like 'idle in transaction%'
                or (state = 'active' and query ~* '^\\s*(copy|insert\\s+into)\\s+"?odoo"?\\.') as writing
               from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid())
           select count(*) filter (where writing)::int as writing,
                  count(*) filter (where pg_terminate_backend(pid))::int as ended
             from ours where exists (select 1 from ours where writing)`,
        );
        if ((rows[0]?.writing ?? 0) > 0) return rows[0]?.ended ?? 0;
        await new Promise((r) => setTimeout(r, 5));
      }
      return 0;
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
    // its connections ended four times while it writes pages (statements in flight fail, idle ones
    // go), fewer than the resumes a model is allowed in one run
    let terminated = 0;
    for (let round = 0; round < 4 && !done; round++) {
      await new Promise((r) => setTimeout(r, 500));
      terminated += await terminateOurBackendsMidWrite();
    }
    const result = await syncing;
    expect(terminated).toBeGreaterThan(0);
    expect(result.status, JSON.stringify(result.models.filter((m) => m.error))).toBe("succeeded");
    const resumed = lines.filter((l) => l.msg?.startsWith("lost PostgreSQL under the model"));
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(await diffWithSource(h)).toEqual([]);
  });
});
