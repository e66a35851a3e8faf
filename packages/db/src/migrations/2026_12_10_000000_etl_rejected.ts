import { type Kysely, sql } from "kysely";

// Records a sync read from Odoo but could not write: a value PostgreSQL cannot store (a date that
// does not exist, an integer beyond `integer`, JSON `jsonb` refuses). The rest of the page and of
// the model commit; the record is written here in the same transaction as the page that left it
// out, so the cursor never moves past it unseen, and every sync reads these ids again until Odoo
// has a value that can be stored (the row then goes) or the record is gone. The runs count them.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table etl.rejected (
      model text not null,
      id integer not null,
      problems jsonb not null,
      first_run_id bigint,
      last_run_id bigint,
      first_seen_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      primary key (model, id)
    )`.execute(db);
  await sql`comment on table etl.rejected is ${sql.lit(
    "Odoo records a sync could not write (problems: [{field, expected, value}]): read again by every sync until written or gone",
  )}`.execute(db);
  await sql`alter table etl.run_models add column rejected integer not null default 0`.execute(db);
  await sql`alter table etl.runs add column rejected bigint not null default 0`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table etl.runs drop column if exists rejected`.execute(db);
  await sql`alter table etl.run_models drop column if exists rejected`.execute(db);
  await sql`drop table if exists etl.rejected`.execute(db);
}
