import type { Kysely } from "kysely";

// Models the registry marks optional (account.partial.reconcile) may be missing on a reduced
// Odoo-compatible server, or unreadable by the sync user: `absent_at` says since when the last sync
// found it so (the reason is in that run's etl.run_models.error); cleared when it syncs again. The
// API's aging then works from the journal items' current residuals.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("etl").alterTable("cursors").addColumn("absent_at", "timestamptz").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("etl").alterTable("cursors").dropColumn("absent_at").execute();
}
