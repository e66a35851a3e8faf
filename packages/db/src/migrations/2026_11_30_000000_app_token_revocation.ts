import { type Kysely, sql } from "kysely";

// Access tokens (JWTs) that must stop working before they expire. A user's `token_version` goes up
// when an admin disables the user or changes their role or password: every access token carries the
// version it was issued under, and one below the user's current version is refused. The version is
// read in the same row as the role, so a token is never signed with a new version and an old role
// (or the reverse), and no clock is compared. `tokens_revoked_at` says when it last went up: each
// web-api replica keeps in memory only the users revoked within an access-token lifetime.
// Logout and refresh-token reuse revoke one session (refresh-token family): replicas load the
// families revoked within an access-token lifetime from `refresh_tokens.revoked_at`, hence its index.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema("app")
    .alterTable("users")
    .addColumn("token_version", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("tokens_revoked_at", "timestamptz")
    .execute();
  await sql`create index users_tokens_revoked_at_idx on app.users (tokens_revoked_at) where tokens_revoked_at is not null`.execute(
    db,
  );
  await sql`create index refresh_tokens_revoked_at_idx on app.refresh_tokens (revoked_at) where revoked_at is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists app.refresh_tokens_revoked_at_idx`.execute(db);
  await sql`drop index if exists app.users_tokens_revoked_at_idx`.execute(db);
  await db.schema
    .withSchema("app")
    .alterTable("users")
    .dropColumn("tokens_revoked_at")
    .dropColumn("token_version")
    .execute();
}
