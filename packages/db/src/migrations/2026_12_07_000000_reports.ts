import { type Kysely, sql } from "kysely";

// The report records, schema `reports`: what was asked (kind, params), by whom, how far it got, and
// where the finished file is stored. A file is found again for an identical request (`request_key`:
// kind, params and the caller's scope) built from the same synced data (`data_version`).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists reports`.execute(db);
  await db.schema
    .withSchema("reports")
    .createTable("reports")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("params", "jsonb", (c) => c.notNull())
    .addColumn("request_key", "text", (c) => c.notNull())
    .addColumn("requested_by", "uuid", (c) => c.references("app.users.id").onDelete("set null"))
    .addColumn("status", "text", (c) =>
      c.notNull().check(sql`status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`),
    )
    .addColumn("progress", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("rows", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("bytes", "bigint")
    .addColumn("file_name", "text", (c) => c.notNull())
    .addColumn("storage_key", "text")
    .addColumn("checksum", "text")
    .addColumn("data_version", "text")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("error", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("started_at", "timestamptz")
    .addColumn("finished_at", "timestamptz")
    .addColumn("expires_at", "timestamptz")
    .addColumn("cancel_requested_at", "timestamptz")
    .execute();
  await sql`create index reports_requested_by_idx on reports.reports (requested_by, created_at desc, id desc)`.execute(
    db,
  );
  await sql`create index reports_created_idx on reports.reports (created_at desc, id desc)`.execute(db);
  await sql`create index reports_reuse_idx on reports.reports (request_key, data_version) where status = 'succeeded'`.execute(
    db,
  );
  await sql`create index reports_expires_idx on reports.reports (expires_at) where expires_at is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop schema if exists reports cascade`.execute(db);
}
