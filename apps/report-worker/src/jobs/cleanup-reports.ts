import type { reportsQueue } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import type { Handler } from "@finanzas/queue";
import type { Storage } from "@finanzas/storage";

/**
 * `cleanup-reports`: deletes the records of reports past their expiry (finished ones after
 * REPORT_TTL_HOURS; failed and cancelled ones as long after they ended), and each stored file once
 * no record points at it any more (a reused report shares its file).
 */
export const cleanupReportsHandler =
  (deps: {
    db: Kysely<Database>;
    storage: Storage;
    ttlHours: number;
  }): Handler<typeof reportsQueue, "cleanup-reports"> =>
  async (_payload, ctx) => {
    const now = new Date();
    const ended = new Date(now.getTime() - deps.ttlHours * 3_600_000);
    const gone = await deps.db
      .deleteFrom("reports.reports")
      .where((eb) =>
        eb.or([
          eb.and([eb("status", "=", "succeeded"), eb("expires_at", "<=", now)]),
          eb.and([eb("status", "in", ["failed", "cancelled"]), eb("finished_at", "<=", ended)]),
        ]),
      )
      .returning(["id", "storage_key"])
      .execute();
    const keys = [...new Set(gone.map((r) => r.storage_key).filter((k): k is string => k !== null))];
    let files = 0;
    for (const key of keys) {
      const still = await deps.db
        .selectFrom("reports.reports")
        .select("id")
        .where("storage_key", "=", key)
        .executeTakeFirst();
      if (still) continue;
      await deps.storage.delete(key);
      files++;
    }
    if (gone.length) ctx.logger.info({ records: gone.length, files }, "expired reports deleted");
    return { deleted: gone.length };
  };
