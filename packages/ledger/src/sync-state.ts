import type { Db } from "./sql.js";

/**
 * Of `models`, those whose first sync has not finished (no sync has brought them up to date yet;
 * an optional model the server lacks counts as synced once a sync has noted it absent), in order.
 */
export async function firstSyncPending(db: Db, models: readonly string[]): Promise<string[]> {
  if (models.length === 0) return [];
  const synced = await db
    .selectFrom("etl.cursors")
    .select("model")
    .where("model", "in", [...models])
    .where("last_success_at", "is not", null)
    .execute();
  const done = new Set(synced.map((r) => r.model));
  return models.filter((m) => !done.has(m));
}
