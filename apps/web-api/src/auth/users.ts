import type { Role, UserDto } from "@finanzas/contracts";
import type { Database } from "@finanzas/db";
import { type Kysely, type Selectable, sql } from "@finanzas/db";
import { hashPassword, verifyPassword } from "./passwords.js";

export type UserRow = Selectable<Database["app.users"]>;

export const toUserDto = (row: UserRow): UserDto => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  disabled: row.disabled_at !== null,
  createdAt: new Date(row.created_at).toISOString(),
  lastLoginAt: row.last_login_at ? new Date(row.last_login_at).toISOString() : null,
  mustChangePassword: row.must_change_password,
});

export const findUserByEmail = (db: Kysely<Database>, email: string): Promise<UserRow | undefined> =>
  db
    .selectFrom("app.users")
    .selectAll()
    .where(sql<string>`lower(email)`, "=", email.toLowerCase())
    .executeTakeFirst();

export const findUserById = (db: Kysely<Database>, id: string): Promise<UserRow | undefined> =>
  db.selectFrom("app.users").selectAll().where("id", "=", id).executeTakeFirst();

export const listUsers = (db: Kysely<Database>): Promise<UserRow[]> =>
  db.selectFrom("app.users").selectAll().orderBy("email").orderBy("id").execute();

export class EmailTakenError extends Error {
  constructor(email: string) {
    super(`a user with email ${email} already exists`);
  }
}

export async function createUser(
  db: Kysely<Database>,
  input: { email: string; password: string; role: Role; name?: string | undefined },
): Promise<UserRow> {
  const passwordHash = await hashPassword(input.password);
  const row = await db
    .insertInto("app.users")
    .values({ email: input.email, name: input.name ?? null, role: input.role, password_hash: passwordHash })
    .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new EmailTakenError(input.email);
  return row;
}

/**
 * Creates the first admin from ADMIN_EMAIL/ADMIN_PASSWORD when no enabled admin exists. Safe when
 * replicas start together: one insert wins, the others do nothing. With `mustChangePassword`
 * (production) the admin must choose a new password at first login: ADMIN_PASSWORD sits in the
 * deployment's configuration, readable by whoever reads that. An existing user promoted to admin
 * keeps its own password, and no flag.
 */
export async function ensureFirstAdmin(
  db: Kysely<Database>,
  email: string,
  password: string,
  options: { mustChangePassword: boolean },
): Promise<"created" | "exists"> {
  const admin = await db
    .selectFrom("app.users")
    .select("id")
    .where("role", "=", "admin")
    .where("disabled_at", "is", null)
    .executeTakeFirst();
  if (admin) return "exists";
  const passwordHash = await hashPassword(password);
  const inserted = await db
    .insertInto("app.users")
    .values({
      email,
      name: "Administrator",
      role: "admin",
      password_hash: passwordHash,
      must_change_password: options.mustChangePassword,
    })
    .onConflict((oc) =>
      oc
        .expression(sql`lower(email)`)
        .doUpdateSet({ role: "admin", disabled_at: null, updated_at: sql`now()` })
        .where(
          sql<boolean>`not exists (select 1 from app.users where role = 'admin' and disabled_at is null)`,
        ),
    )
    .returning("id")
    .executeTakeFirst();
  return inserted ? "created" : "exists";
}

/**
 * In production, an admin that existed before (created outside production, or before this rule)
 * whose password is still ADMIN_PASSWORD must change it too: flags it once (replicas starting
 * together: one update wins) and raises its token version, so access tokens signed without the
 * flag stop working. Returns what to announce to the other replicas; undefined when nothing changed.
 */
export async function flagConfiguredPassword(
  db: Kysely<Database>,
  email: string,
  password: string,
): Promise<{ id: string; version: number } | undefined> {
  const user = await findUserByEmail(db, email);
  if (!user || user.disabled_at || user.must_change_password) return undefined;
  if (!(await verifyPassword(user.password_hash, password))) return undefined;
  const flagged = await db
    .updateTable("app.users")
    .set({
      must_change_password: true,
      token_version: sql`token_version + 1`,
      tokens_revoked_at: sql`now()`,
      updated_at: sql`now()`,
    })
    .where("id", "=", user.id)
    .where("must_change_password", "=", false)
    .where("password_hash", "=", user.password_hash)
    .returning(["id", "token_version"])
    .executeTakeFirst();
  return flagged ? { id: flagged.id, version: flagged.token_version } : undefined;
}

export const hasEnabledAdmin = async (db: Kysely<Database>): Promise<boolean> =>
  (await db
    .selectFrom("app.users")
    .select("id")
    .where("role", "=", "admin")
    .where("disabled_at", "is", null)
    .executeTakeFirst()) !== undefined;
