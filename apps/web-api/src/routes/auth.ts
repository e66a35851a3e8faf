import { publishedSource } from "@finanzas/config";
import type { TokenResponse } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { AppInstance } from "../app-types.js";
import { authenticate } from "../auth/authenticate.js";
import { type LoginThrottle, sendThrottled } from "../auth/login-throttle.js";
import { hashPassword } from "../auth/passwords.js";
import type { TokenRevocations } from "../auth/revocations.js";
import {
  changeOwnPassword,
  issueRefreshToken,
  revokeByToken,
  revokeEverySession,
  rotateRefreshToken,
} from "../auth/sessions.js";
import type { TokenSigner } from "../auth/tokens.js";
import { findUserById, toUserDto, type UserRow } from "../auth/users.js";
import { HttpProblem } from "../problem.js";
import { type MountDeps, mount } from "./mount.js";

export interface AuthRouteDeps extends MountDeps {
  db: Kysely<Database>;
  signer: TokenSigner;
  revocations: TokenRevocations;
  refreshTtlDays: number;
  /** Failed sign-ins per address and per account, shared with the queue dashboard's login form. */
  throttle: LoginThrottle;
}

export async function authRoutes(app: AppInstance, deps: AuthRouteDeps): Promise<void> {
  // The version comes from the same row as the role: a token never pairs a new role with an old
  // version or the reverse. The session is the refresh token's family: logging it out ends the token.
  const tokensFor = async (
    user: UserRow,
    refresh: { token: string; expiresAt: Date; familyId: string },
  ): Promise<TokenResponse> => ({
    tokenType: "Bearer",
    accessToken: await deps.signer.sign({
      userId: user.id,
      role: user.role,
      email: user.email,
      version: user.token_version,
      sessionId: refresh.familyId,
      mustChangePassword: user.must_change_password,
    }),
    expiresIn: deps.signer.accessTtlSeconds,
    refreshToken: refresh.token,
    refreshExpiresAt: refresh.expiresAt.toISOString(),
    user: toUserDto(user),
  });

  // Guessing passwords is throttled per client address and per account (auth/login-throttle.ts).
  mount(app, deps, "login", async ({ body, request, reply }) => {
    const wait = await deps.throttle.attempt(request.ip, body.email);
    if (wait > 0) return sendThrottled(request, reply, wait) as never;
    const user = await authenticate(deps.db, body.email, body.password);
    await deps.throttle.succeeded(request.ip, body.email);
    await deps.db
      .updateTable("app.users")
      .set({ last_login_at: sql`now()` })
      .where("id", "=", user.id)
      .execute();
    const refresh = await issueRefreshToken(deps.db, user.id, deps.refreshTtlDays);
    return tokensFor(user, refresh);
  });

  mount(app, deps, "refresh", async ({ body }) => {
    const outcome = await rotateRefreshToken(deps.db, body.refreshToken, deps.refreshTtlDays);
    if (!outcome.ok) {
      // A replayed or disabled session: its access tokens stop working too, on every replica.
      if ("revokedFamilyId" in outcome) await deps.revocations.sessionRevoked(outcome.revokedFamilyId);
      const detail =
        outcome.reason === "reused"
          ? "this refresh token was already used: the session is revoked, log in again"
          : outcome.reason === "expired"
            ? "the refresh token has expired: log in again"
            : "the refresh token is not valid: log in again";
      throw new HttpProblem(401, detail);
    }
    return tokensFor(outcome.user, outcome.refresh);
  });

  // Logout ends the session: its refresh token and, at once and on every replica, the access
  // tokens issued with it. The user's other sessions (other devices) keep working.
  mount(app, deps, "logout", async ({ body }) => {
    const familyId = await revokeByToken(deps.db, body.refreshToken);
    if (familyId) await deps.revocations.sessionRevoked(familyId);
    return null;
  });

  // Logout everywhere: every session of the caller (no refresh token of theirs works any more) and
  // every access token issued to them so far, this one included, at once and on every replica.
  // The version goes up as when an admin revokes a user; logging in again signs the new one.
  mount(app, deps, "logoutAll", async ({ user }) => {
    const version = user ? await revokeEverySession(deps.db, user.id, "logout everywhere") : undefined;
    if (!user || version === undefined)
      throw new HttpProblem(401, "this user no longer exists or is disabled");
    await deps.revocations.userRevoked(user.id, version);
    return null;
  });

  // The caller's own password, the current one asked again (rate-limited like the login, since it
  // checks a password). Every session and access token of the user ends, the caller's included
  // (a token carrying "must change the password" must not outlive the change); the answer is a new
  // pair for this client, so only the other devices have to log in again.
  mount(app, deps, "changePassword", async ({ body, user, request, reply }) => {
    if (!user) throw new HttpProblem(401, "this user no longer exists or is disabled");
    // The login's throttle, this account's budget: a stolen token cannot guess the password.
    const account = `user:${user.id}`;
    const wait = await deps.throttle.attempt(request.ip, account);
    if (wait > 0) return sendThrottled(request, reply, wait) as never;
    const refuse = (message: string) => {
      throw new HttpProblem(400, `newPassword ${message}`, [{ field: "body.newPassword", message }]);
    };
    if (body.newPassword === body.currentPassword) refuse("must differ from the current password");
    if (publishedSource(body.newPassword)) {
      refuse(
        "is published in the Finanzas repository (a demo or test value) or a placeholder: choose another",
      );
    }
    const outcome = await changeOwnPassword(
      deps.db,
      user.id,
      body.currentPassword,
      await hashPassword(body.newPassword),
      deps.refreshTtlDays,
    );
    if (!outcome.ok) {
      if (outcome.reason === "unknown")
        throw new HttpProblem(401, "this user no longer exists or is disabled");
      throw new HttpProblem(400, "currentPassword is not this account's password", [
        { field: "body.currentPassword", message: "is not this account's password" },
      ]);
    }
    await deps.throttle.succeeded(request.ip, account);
    await deps.revocations.userRevoked(outcome.user.id, outcome.user.token_version);
    return tokensFor(outcome.user, outcome.refresh);
  });

  mount(app, deps, "me", async ({ user }) => {
    const row = user ? await findUserById(deps.db, user.id) : undefined;
    if (!row || row.disabled_at) throw new HttpProblem(401, "this user no longer exists or is disabled");
    return toUserDto(row);
  });
}
