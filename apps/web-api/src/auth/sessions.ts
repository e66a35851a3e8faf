import { randomUUID } from "node:crypto";
import type { Database, Kysely, Selectable } from "@finanzas/db";
import { sql } from "@finanzas/db";
import { verifyPassword } from "./passwords.js";
import { hashRefreshToken, newRefreshToken } from "./tokens.js";

type UserRow = Selectable<Database["app.users"]>;

export interface IssuedRefresh {
  token: string;
  expiresAt: Date;
  /** The session: access tokens signed with it carry it (`sid`), so revoking the family ends them. */
  familyId: string;
}

/** Starts a new family (a login) or continues one (a rotation). */
export async function issueRefreshToken(
  db: Kysely<Database>,
  userId: string,
  ttlDays: number,
  familyId: string = randomUUID(),
): Promise<IssuedRefresh> {
  const { token, hash } = newRefreshToken();
  const expiresAt = new Date(Date.now() + ttlDays * 86_400_000);
  await db
    .insertInto("app.refresh_tokens")
    .values({
      id: randomUUID(),
      user_id: userId,
      family_id: familyId,
      token_hash: hash,
      expires_at: expiresAt,
    })
    .execute();
  return { token, expiresAt, familyId };
}

export type RotateOutcome =
  | { ok: true; user: UserRow; refresh: IssuedRefresh }
  | { ok: false; reason: "unknown" | "expired" | "revoked" }
  /** The family was revoked now: its access tokens must stop working too. */
  | { ok: false; reason: "reused" | "disabled"; revokedFamilyId: string };

/**
 * Exchanges a refresh token for a new one in the same family. A token that was already rotated is
 * being reused (stolen, or replayed): the whole family is revoked, so the thief and the owner both
 * have to log in again. The check-and-rotate is one conditional UPDATE, so two concurrent refreshes
 * of the same token cannot both succeed, nor one of a token being revoked at the same time.
 * The user's row is locked (FOR SHARE) before the token is claimed, as `revokeEverySession` locks
 * it before revoking: a rotation racing a logout everywhere either commits first (its new token is
 * then revoked too, its access token carries the old version) or finds its token revoked.
 */
export async function rotateRefreshToken(
  db: Kysely<Database>,
  token: string,
  ttlDays: number,
): Promise<RotateOutcome> {
  const hash = hashRefreshToken(token);
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom("app.refresh_tokens")
      .selectAll()
      .where("token_hash", "=", hash)
      .executeTakeFirst();
    if (!current) return { ok: false, reason: "unknown" } as const;
    if (current.revoked_at) return { ok: false, reason: "revoked" } as const;
    const user = await trx
      .selectFrom("app.users")
      .selectAll()
      .where("id", "=", current.user_id)
      .forShare()
      .executeTakeFirst();
    const claimed = await trx
      .updateTable("app.refresh_tokens")
      .set({ rotated_at: sql`now()` })
      .where("id", "=", current.id)
      .where("rotated_at", "is", null)
      .where("revoked_at", "is", null)
      .returning("id")
      .executeTakeFirst();
    if (!claimed) {
      // Revoked since it was read (a logout committed meanwhile), or rotated by another request.
      const latest = await trx
        .selectFrom("app.refresh_tokens")
        .select("revoked_at")
        .where("id", "=", current.id)
        .executeTakeFirst();
      if (latest?.revoked_at) return { ok: false, reason: "revoked" } as const;
      await revokeFamily(trx, current.family_id, "reuse of a rotated refresh token");
      return { ok: false, reason: "reused", revokedFamilyId: current.family_id } as const;
    }
    if (new Date(current.expires_at).getTime() <= Date.now())
      return { ok: false, reason: "expired" } as const;
    if (!user || user.disabled_at) {
      await revokeFamily(trx, current.family_id, "user disabled");
      return { ok: false, reason: "disabled", revokedFamilyId: current.family_id } as const;
    }
    const refresh = await issueRefreshToken(trx, user.id, ttlDays, current.family_id);
    return { ok: true, user, refresh } as const;
  });
}

export async function revokeFamily(db: Kysely<Database>, familyId: string, reason: string): Promise<void> {
  await db
    .updateTable("app.refresh_tokens")
    .set({ revoked_at: sql`now()`, revoked_reason: reason })
    .where("family_id", "=", familyId)
    .where("revoked_at", "is", null)
    .execute();
}

/**
 * Logout: revokes the session (family) the token belongs to and returns its id (its access tokens
 * must stop working too). Unknown tokens are ignored.
 */
export async function revokeByToken(db: Kysely<Database>, token: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("app.refresh_tokens")
    .select("family_id")
    .where("token_hash", "=", hashRefreshToken(token))
    .executeTakeFirst();
  if (!row) return undefined;
  await revokeFamily(db, row.family_id, "logout");
  return row.family_id;
}

export async function revokeUserSessions(
  db: Kysely<Database>,
  userId: string,
  reason: string,
): Promise<void> {
  await db
    .updateTable("app.refresh_tokens")
    .set({ revoked_at: sql`now()`, revoked_reason: reason })
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .execute();
}

/**
 * Logout everywhere: in one transaction, raises the user's token_version (as an admin's revocation
 * does: every access token issued to the user so far is refused once a replica knows the new
 * version) and revokes every refresh token of the user. Returns the new version to announce
 * (TokenRevocations.userRevoked); undefined when there is no such user.
 */
export async function revokeEverySession(
  db: Kysely<Database>,
  userId: string,
  reason: string,
): Promise<number | undefined> {
  return db.transaction().execute(async (trx) => {
    // The user's row first, as a rotation locks it before claiming a token (no deadlock, no gap).
    const user = await trx
      .updateTable("app.users")
      .set({ token_version: sql`token_version + 1`, tokens_revoked_at: sql`now()` })
      .where("id", "=", userId)
      .returning("token_version")
      .executeTakeFirst();
    if (!user) return undefined;
    await revokeUserSessions(trx, userId, reason);
    return user.token_version;
  });
}

export type PasswordChange =
  | { ok: true; user: UserRow; refresh: IssuedRefresh }
  | { ok: false; reason: "unknown" | "wrong-password" };

/**
 * The user's own password change, in one transaction with the user's row locked (a concurrent
 * change, rotation or logout everywhere waits, and a second change with the same current password
 * finds it wrong): checks the current password, sets the new hash, clears must_change_password,
 * raises token_version (every access token issued so far is refused once a replica knows it; the
 * caller announces the returned version) and revokes every refresh token of the user; then starts
 * a new session, the caller's.
 */
export async function changeOwnPassword(
  db: Kysely<Database>,
  userId: string,
  currentPassword: string,
  newPasswordHash: string,
  ttlDays: number,
): Promise<PasswordChange> {
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom("app.users")
      .select(["password_hash", "disabled_at"])
      .where("id", "=", userId)
      .forUpdate()
      .executeTakeFirst();
    if (!current || current.disabled_at) return { ok: false, reason: "unknown" } as const;
    if (!(await verifyPassword(current.password_hash, currentPassword)))
      return { ok: false, reason: "wrong-password" } as const;
    const user = await trx
      .updateTable("app.users")
      .set({
        password_hash: newPasswordHash,
        must_change_password: false,
        token_version: sql`token_version + 1`,
        tokens_revoked_at: sql`now()`,
        updated_at: sql`now()`,
      })
      .where("id", "=", userId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await revokeUserSessions(trx, userId, "password changed");
    const refresh = await issueRefreshToken(trx, userId, ttlDays);
    return { ok: true, user, refresh } as const;
  });
}
