import { type Kysely, sql } from "kysely";

// web-api's own tables, schema `app`: users (argon2id hashes) and their refresh tokens (sha-256 of
// the token only; a family is the chain of rotations that started at one login).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists app`.execute(db);
  await db.schema
    .withSchema("app")
    .createTable("users")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("name", "text")
    .addColumn("role", "text", (c) => c.notNull().check(sql`role in ('admin', 'finance', 'viewer')`))
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("disabled_at", "timestamptz")
    .addColumn("last_login_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index users_email_key on app.users (lower(email))`.execute(db);

  await db.schema
    .withSchema("app")
    .createTable("refresh_tokens")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("user_id", "uuid", (c) => c.notNull().references("app.users.id").onDelete("cascade"))
    .addColumn("family_id", "uuid", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("rotated_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .addColumn("revoked_reason", "text")
    .execute();
  await db.schema
    .withSchema("app")
    .createIndex("refresh_tokens_family_idx")
    .on("refresh_tokens")
    .column("family_id")
    .execute();
  await db.schema
    .withSchema("app")
    .createIndex("refresh_tokens_user_idx")
    .on("refresh_tokens")
    .column("user_id")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("app").dropTable("refresh_tokens").ifExists().execute();
  await db.schema.withSchema("app").dropTable("users").ifExists().execute();
}
