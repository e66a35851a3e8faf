import type { Db } from "./sql.js";

/** What etl.cursors says of a model's sync: when it was last brought up to date, and whether the server lacks it. */
export interface SyncCursor {
  lastSuccessAt: Date | null;
  absentAt: Date | null;
}

/** The cursors of `models` (a model never synced has none), in one read. */
export async function syncCursors(db: Db, models: readonly string[]): Promise<Map<string, SyncCursor>> {
  const found = new Map<string, SyncCursor>();
  if (models.length === 0) return found;
  const rows = await db
    .selectFrom("etl.cursors")
    .select(["model", "last_success_at", "absent_at"])
    .where("model", "in", [...models])
    .execute();
  for (const r of rows) found.set(r.model, { lastSuccessAt: r.last_success_at, absentAt: r.absent_at });
  return found;
}

/** Of `models`, those whose first sync has not finished according to `cursors`, in order. */
export const pendingIn = (cursors: Map<string, SyncCursor>, models: readonly string[]): string[] =>
  models.filter((m) => !cursors.get(m)?.lastSuccessAt);

/**
 * Of `models`, those whose first sync has not finished (no sync has brought them up to date yet;
 * an optional model the server lacks counts as synced once a sync has noted it absent), in order.
 */
export async function firstSyncPending(db: Db, models: readonly string[]): Promise<string[]> {
  return pendingIn(await syncCursors(db, models), models);
}
