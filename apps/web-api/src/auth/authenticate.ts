import type { Database, Kysely } from "@finanzas/db";
import { HttpProblem } from "../problem.js";
import { burnVerification, verifyPassword } from "./passwords.js";
import { findUserByEmail, type UserRow } from "./users.js";

/**
 * Checks email and password; the same 401 whether the email is unknown, the password wrong or the
 * user disabled. The API's login route and the queue dashboard's login form both sign in through it.
 */
export async function authenticate(db: Kysely<Database>, email: string, password: string): Promise<UserRow> {
  const user = await findUserByEmail(db, email);
  if (!user) {
    await burnVerification(password);
    throw new HttpProblem(401, "wrong email or password");
  }
  const ok = await verifyPassword(user.password_hash, password);
  if (!ok || user.disabled_at) throw new HttpProblem(401, "wrong email or password");
  return user;
}
