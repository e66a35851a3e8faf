import { type Kysely, sql } from "kysely";

// The synced copy of Odoo lives in its own schema, apart from the application's tables.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists odoo`.execute(db);
  await sql`comment on schema odoo is ${sql.lit("Copy of Odoo finance records, written only by etl-worker")}`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop schema if exists odoo cascade`.execute(db);
}
