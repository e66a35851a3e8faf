import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { AppInstance } from "../app-types.js";
import { hashPassword } from "../auth/passwords.js";
import type { TokenRevocations } from "../auth/revocations.js";
import { revokeUserSessions } from "../auth/sessions.js";
import { createUser, EmailTakenError, findUserById, listUsers, toUserDto } from "../auth/users.js";
import { HttpProblem } from "../problem.js";
import { type MountDeps, mount } from "./mount.js";

/** Admin user management: create, list, change role/name/password, disable (revoking sessions). */
export async function userRoutes(
  app: AppInstance,
  deps: MountDeps & { db: Kysely<Database>; revocations: TokenRevocations },
): Promise<void> {
  const { db, revocations } = deps;
  mount(app, deps, "listUsers", async () => ({ items: (await listUsers(db)).map(toUserDto) }));

  mount(app, deps, "createUser", async ({ body }) => {
    try {
      return toUserDto(await createUser(db, body));
    } catch (error) {
      if (error instanceof EmailTakenError) throw new HttpProblem(409, error.message);
      throw error;
    }
  });

  mount(app, deps, "updateUser", async ({ params, body, user }) => {
    const existing = await findUserById(db, params.id);
    if (!existing) throw new HttpProblem(404, `no user with id ${params.id}`);
    if (existing.id === user?.id && (body.disabled === true || (body.role && body.role !== "admin"))) {
      throw new HttpProblem(409, "you cannot disable yourself or remove your own admin role");
    }
    // A disabled user, a changed role or a new password ends every session and every access token
    // at once: the version goes up in the same statement as the change (a token signed from this
    // row or a later one carries the new role and version) and the refresh tokens are revoked in
    // the same transaction, the user's row locked first as a rotation does (a refresh cannot slip
    // in between); then every replica learns it.
    const revoke = body.disabled === true || (body.role && body.role !== existing.role) || body.password;
    const passwordHash = body.password ? await hashPassword(body.password) : undefined;
    const updated = await db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable("app.users")
        .set({
          ...(body.role ? { role: body.role } : {}),
          ...(body.name ? { name: body.name } : {}),
          ...(passwordHash ? { password_hash: passwordHash } : {}),
          ...(body.disabled === undefined ? {} : { disabled_at: body.disabled ? sql`now()` : null }),
          ...(revoke ? { token_version: sql`token_version + 1`, tokens_revoked_at: sql`now()` } : {}),
          updated_at: sql`now()`,
        })
        .where("id", "=", params.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (revoke) {
        await revokeUserSessions(
          trx,
          params.id,
          body.disabled ? "user disabled" : "role or password changed",
        );
      }
      return row;
    });
    if (revoke) await revocations.userRevoked(updated.id, updated.token_version);
    return toUserDto(updated);
  });
}
