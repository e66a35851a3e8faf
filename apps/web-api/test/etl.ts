/**
 * The real ETL in-process, for tests whose data must come from the simulator: an etl-worker
 * consumer on this suite's queue prefix, syncing from an Odoo simulator over HTTP. Syncs are
 * requested through the web-api (POST /api/v1/sync/runs), exactly as a user would.
 */

import type { OdooClient } from "@finanzas/odoo";
import type { OdooSim } from "@finanzas/odoo-sim";
import type { Consumer } from "@finanzas/queue";
import { createRedis } from "@finanzas/queue";
import { startTestOdoo, TEST_REDIS_URL } from "@finanzas/testing";
import { startTestEtlWorker } from "etl-worker/testing";
import type { Redis } from "ioredis";
import { auth, logger, type TestApp } from "./helpers.js";

export interface Etl {
  sim: OdooSim;
  odoo: OdooClient;
  consumer: Consumer;
  /** POST /sync/runs as `finance`, then polls GET /sync/runs/:id until the run ends. */
  sync(body?: Record<string, unknown>): Promise<{ runId: string; run: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startEtl(t: TestApp, scale = 0.05): Promise<Etl> {
  const { sim, odoo, close: closeOdoo } = await startTestOdoo({ seed: 11, scale, version: 17 });
  const publisher: Redis = createRedis(TEST_REDIS_URL);
  const consumer = await startTestEtlWorker({
    connection: { redisUrl: TEST_REDIS_URL, prefix: t.prefix },
    store: t.database,
    odoo,
    publisher,
    logger,
  });
  return {
    sim,
    odoo,
    consumer,
    async sync(body = {}) {
      const started = await t.app.inject({
        method: "POST",
        url: "/api/v1/sync/runs",
        headers: auth(t.tokens.finance),
        payload: body,
      });
      if (started.statusCode !== 202) throw new Error(`sync: ${started.statusCode} ${started.body}`);
      const { runId } = started.json() as { runId: string };
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const res = await t.app.inject({
          method: "GET",
          url: `/api/v1/sync/runs/${runId}`,
          headers: auth(t.tokens.finance),
        });
        const run = res.json() as Record<string, unknown>;
        if (run.status === "succeeded" || run.status === "failed") return { runId, run };
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`sync ${runId} did not finish within 60 s`);
    },
    async close() {
      await consumer.close(5_000);
      publisher.disconnect();
      await closeOdoo();
    },
  };
}
