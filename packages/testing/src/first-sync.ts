import type { Database, Kysely } from "@finanzas/db";

/** Records `models` as through their first sync (now), as a finished sync leaves etl.cursors. */
export async function markSynced(db: Kysely<Database>, models: readonly string[]): Promise<void> {
  if (models.length === 0) return;
  const now = new Date();
  await db
    .insertInto("etl.cursors")
    .values(models.map((model) => ({ model, last_success_at: now })))
    .onConflict((oc) => oc.column("model").doUpdateSet({ last_success_at: now }))
    .execute();
}

/**
 * Puts `models` back to before their first sync finished (their last success cleared), as during
 * a first sync. `saved` is their cursors as they were; `restore` puts them back.
 */
export async function holdFirstSync(
  db: Kysely<Database>,
  models: readonly string[],
): Promise<{ saved: { model: string; last_success_at: Date | null }[]; restore(): Promise<void> }> {
  const saved = await db
    .selectFrom("etl.cursors")
    .select(["model", "last_success_at"])
    .where("model", "in", [...models])
    .orderBy("model")
    .execute();
  await db
    .updateTable("etl.cursors")
    .set({ last_success_at: null })
    .where("model", "in", [...models])
    .execute();
  return {
    saved,
    async restore() {
      for (const c of saved)
        await db
          .updateTable("etl.cursors")
          .set({ last_success_at: c.last_success_at })
          .where("model", "=", c.model)
          .execute();
    },
  };
}
