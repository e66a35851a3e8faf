import { type Kysely, sql } from "kysely";

// The report files to delete from the store: a report record deleted (by its owner, or by the
// cleanup once expired) queues its file here in the same transaction, unless another record still
// points to it. The file is then deleted from the store and its row goes; a store that cannot be
// reached (S3 down) leaves the row, and the next cleanup tries again, so a deleted report never
// leaves its file behind for good and nobody has to tell a file-store outage from a database one.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table reports.file_deletions (
      storage_key text primary key,
      queued_at timestamptz not null default now(),
      attempts integer not null default 0,
      last_error text,
      last_attempt_at timestamptz
    )`.execute(db);
  await sql`comment on table reports.file_deletions is ${sql.lit(
    "report files to delete from the store (their records are gone); kept until the store has deleted them",
  )}`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists reports.file_deletions`.execute(db);
}
