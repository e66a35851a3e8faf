import { MODEL_NAMES } from "@finanzas/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcileDeletions } from "../src/jobs/reconcile-deletions.js";
import { sync } from "../src/jobs/sync.js";
import { diffWithSource, type Harness, harness, job } from "./helpers.js";

const OPTIONAL = "account.partial.reconcile";
const REQUIRED = MODEL_NAMES.filter((m) => m !== OPTIONAL);

// A reduced Odoo-compatible server without the reconciliation history (real Odoo 16–19 has it),
// over XML-RPC (17) and JSON-2 (19): their "unknown model" answers differ (fault 2 / HTTP 404).
describe.each([17, 19] as const)(
  "a server without the optional account.partial.reconcile (Odoo %i)",
  (version) => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(`etl_optional_${version}`, { version, without: [OPTIONAL] });
    });
    afterAll(() => h?.close());

    it("syncs every required model, notes the missing optional one, and the run succeeds", async () => {
      expect(await h.odoo.protocol()).toBe(version === 19 ? "json2" : "xmlrpc");
      const result = await sync(h.engine, job(), [...MODEL_NAMES], "full");
      expect(result.status, JSON.stringify(result.models.filter((m) => m.status === "failed"))).toBe(
        "succeeded",
      );
      expect(await diffWithSource(h, REQUIRED)).toEqual([]);
      const skipped = result.models.find((m) => m.model === OPTIONAL);
      expect(skipped).toMatchObject({ status: "succeeded", fetched: 0, upserted: 0 });
      expect(skipped?.error).toMatch(
        /^skipped: account\.partial\.reconcile is optional and this Odoo server does not have it/,
      );
      const cursor = await h.store.db
        .selectFrom("etl.cursors")
        .select(["absent_at", "last_success_at"])
        .where("model", "=", OPTIONAL)
        .executeTakeFirstOrThrow();
      expect(cursor.absent_at).toBeTruthy();
      expect(cursor.last_success_at).toBeTruthy();
      // The same for the nightly deletion check and an incremental sync: never a failed run.
      expect((await reconcileDeletions(h.engine, job(), [...MODEL_NAMES])).status).toBe("succeeded");
      expect((await sync(h.engine, job(), [OPTIONAL], "incremental")).status).toBe("succeeded");
    });

    it("still fails the run when a required model is missing", async () => {
      const sim = await harness(`etl_required_${version}`, { version, without: ["account.journal"] });
      try {
        const result = await sync(sim.engine, job(), ["account.journal", "res.currency"], "incremental");
        expect(result.status).toBe("failed");
        const journal = result.models.find((m) => m.model === "account.journal");
        expect(journal?.status).toBe("failed");
        expect(journal?.error).toMatch(/account\.journal/);
        expect(result.models.find((m) => m.model === "res.currency")?.status).toBe("succeeded");
      } finally {
        await sim.close();
      }
    });
  },
);
