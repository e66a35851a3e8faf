import type { TokenResponse } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { AppInstance } from "../app-types.js";
import { authenticate } from "../auth/authenticate.js";
import { type LoginThrottle, sendThrottled } from "../auth/login-throttle.js";
import type { TokenRevocations } from "../auth/revocations.js";
import {
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

  mount(app, deps, "me", async ({ user }) => {
    const row = user ? await findUserById(deps.db, user.id) : undefined;
    if (!row || row.disabled_at) throw new HttpProblem(401, "this user no longer exists or is disabled");
    return toUserDto(row);
  });
}
