import { type Kysely, sql } from "kysely";

// A full pass over a large model reads several id ranges at once (its partitions); each commits its
// own resume point with its pages, so a crash resumes every partition where it stopped. The rows
// exist while the pass is in progress (etl.cursors.full_last_id not null) and go when it completes,
// in the transaction that moves the model's cursor.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table etl.partitions (
      model text not null,
      part integer not null check (part >= 0),
      after_id integer not null,
      to_id integer,
      last_id integer not null,
      expected integer not null default 0,
      done integer not null default 0,
      high_water timestamptz,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      updated_at timestamptz not null default now(),
      primary key (model, part),
      check (to_id is null or to_id > after_id),
      check (last_id >= after_id)
    )`.execute(db);
  await sql`comment on table etl.partitions is ${sql.lit(
    "Id ranges of a full pass in progress, read at once: ids in (after_id, to_id], committed up to last_id",
  )}`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists etl.partitions`.execute(db);
}
