import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { AppInstance } from "../app.js";
import { hashPassword } from "../auth/passwords.js";
import { revokeUserSessions } from "../auth/sessions.js";
import { createUser, EmailTakenError, findUserById, listUsers, toUserDto } from "../auth/users.js";
import { HttpProblem } from "../problem.js";
import { type MountDeps, mount } from "./mount.js";

/** Admin user management: create, list, change role/name/password, disable (revoking sessions). */
export async function userRoutes(
  app: AppInstance,
  deps: MountDeps & { db: Kysely<Database> },
): Promise<void> {
  const { db } = deps;
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
    const updated = await db
      .updateTable("app.users")
      .set({
        ...(body.role ? { role: body.role } : {}),
        ...(body.name ? { name: body.name } : {}),
        ...(body.password ? { password_hash: await hashPassword(body.password) } : {}),
        ...(body.disabled === undefined ? {} : { disabled_at: body.disabled ? sql`now()` : null }),
        updated_at: sql`now()`,
      })
      .where("id", "=", params.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    // A disabled user, a changed role or a new password ends every session: the next refresh fails.
    if (body.disabled || (body.role && body.role !== existing.role) || body.password) {
      await revokeUserSessions(db, params.id, body.disabled ? "user disabled" : "role or password changed");
    }
    return toUserDto(updated);
  });
}
