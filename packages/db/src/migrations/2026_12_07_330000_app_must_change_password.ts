import type { Kysely } from "kysely";

// A user whose password someone else chose must choose a new one before anything else: the first
// admin, created in production from ADMIN_PASSWORD (a value that sits in a deployment's
// configuration). Until the user changes it (POST /api/v1/auth/password), every other route
// answers 403; changing it clears the flag.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema("app")
    .alterTable("users")
    .addColumn("must_change_password", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema("app").alterTable("users").dropColumn("must_change_password").execute();
}
