import { type ApiRouteName, apiRoutes, PASSWORD_CHANGE_REQUIRED_TYPE, type Role } from "@finanzas/contracts";
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import type { AppInstance, AuthUser } from "../app-types.js";
import { type AccessClaims, InvalidTokenError, type TokenSigner } from "../auth/tokens.js";
import { sendProblem } from "../problem.js";

const bearer = (request: FastifyRequest): string | undefined => {
  const header = request.headers.authorization;
  if (typeof header === "string" && header.startsWith("Bearer ")) return header.slice(7).trim();
  return undefined;
};

/** The one route open to a user who must change their password. */
const PASSWORD_ROUTE: ApiRouteName = "changePassword";
const PASSWORD_CHANGE_REQUIRED = `the password of this account was set by someone else and must be changed before anything else: ${apiRoutes[PASSWORD_ROUTE].method} ${apiRoutes[PASSWORD_ROUTE].url} with {"currentPassword", "newPassword"} (every other route answers 403 until then)`;

function unauthorized(
  request: FastifyRequest,
  reply: FastifyReply,
  detail: string,
  error?: string,
  type?: string,
): FastifyReply {
  reply.header(
    "www-authenticate",
    error ? `Bearer realm="finanzas", error="${error}"` : `Bearer realm="finanzas"`,
  );
  return sendProblem(request, reply, { status: 401, detail, ...(type ? { type } : {}) });
}

/** Pages a browser opens with a session cookie of their own (the queue dashboard). */
export interface BrowserSessionOptions {
  /** Routes under this prefix accept the session cookie as well as a bearer token. */
  prefix: string;
  /** The cookie's user, or null (no cookie, unknown, expired or revoked session). */
  resolve(request: FastifyRequest): Promise<AuthUser | null>;
  /** Where a browser (Accept: text/html) without a valid session is sent to log in. */
  loginUrl: string;
}

export interface AuthOptions {
  signer: TokenSigner;
  metricsToken: string | undefined;
  browserSession?: BrowserSessionOptions;
}

/** A browser asking for a page (Accept names text/html), not a script asking for JSON. */
const wantsPage = (request: FastifyRequest): boolean => {
  const accept = request.headers.accept;
  return typeof accept === "string" && accept.includes("text/html");
};

/**
 * Every route: authenticate when it needs it, then check the role. A hook per route (added when the
 * route is declared), so public routes pay nothing and no request looks its rule up; synchronous
 * when the token was already verified (the memoised HS256 check), a promise only on first sight.
 * Revocation is part of both checks (the signer asks auth/revocations.ts, an in-memory lookup): a
 * revoked token gets 401 "token revoked: sign in again", memoised or not, and a demoted user's old
 * token is refused rather than authorised with its stale role.
 * The rule is read from the route's options at request time: scopes declared later (bull-board's)
 * set it in their own onRoute hooks, after this one ran.
 * Under `browserSession.prefix` (the queue dashboard) a request without a bearer token is
 * authenticated by its session cookie instead, and a browser without a valid one is redirected to
 * the login form rather than answered with a 401 asking for a bearer token. No API route reads
 * a cookie.
 */
export function registerAuth(app: AppInstance, options: AuthOptions): void {
  app.decorateRequest("user", null);
  const { signer, metricsToken, browserSession } = options;

  const authorise = (
    request: FastifyRequest,
    reply: FastifyReply,
    user: AuthUser,
    access: readonly Role[] | "metrics",
  ): boolean => {
    request.user = user;
    // A password someone else chose (the first admin's, in production): that is fixed first.
    if (user.mustChangePassword && request.routeOptions.config.routeName !== PASSWORD_ROUTE) {
      sendProblem(request, reply, {
        status: 403,
        type: PASSWORD_CHANGE_REQUIRED_TYPE,
        title: "Password Change Required",
        detail: PASSWORD_CHANGE_REQUIRED,
      });
      return false;
    }
    const allowed: readonly Role[] = access === "metrics" ? ["admin"] : access;
    if (allowed.includes(user.role)) return true;
    sendProblem(request, reply, {
      status: 403,
      detail: `role ${user.role} may not ${request.method} ${request.routeOptions.url}; allowed: ${allowed.join(", ")}`,
    });
    return false;
  };

  app.addHook("onRoute", (route) => {
    const hook: onRequestHookHandler = (request, reply, done) => {
      const access = route.config?.access;
      if (access === "public") return done();
      // Routes without a rule are refused at boot; should one get through, it is closed, not open.
      if (access === undefined) {
        unauthorized(request, reply, "this route has no access rule");
        return;
      }
      const token = bearer(request);
      if (access === "metrics" && token && metricsToken && safeEqual(token, metricsToken)) return done();
      if (!token && browserSession && request.url.startsWith(browserSession.prefix)) {
        browserSession.resolve(request).then(
          (user) => {
            if (user) {
              if (authorise(request, reply, user, access)) done();
            } else if (wantsPage(request)) {
              reply.redirect(browserSession.loginUrl, 303);
            } else {
              unauthorized(
                request,
                reply,
                `this page needs a session: log in at ${browserSession.loginUrl} (or send a bearer access token)`,
              );
            }
          },
          (error: unknown) => {
            request.log.warn({ err: error }, "cannot read the session");
            sendProblem(request, reply, {
              status: 503,
              detail: `cannot read the session (${error instanceof Error ? error.message : String(error)}): retry once Redis answers`,
            });
          },
        );
        return;
      }
      if (!token) {
        unauthorized(request, reply, "this route needs a bearer access token: log in first");
        return;
      }
      const known = signer.known(token);
      if (known) {
        if (authorise(request, reply, userOf(known), access)) done();
        return;
      }
      signer.verify(token).then(
        (claims) => {
          if (authorise(request, reply, userOf(claims), access)) done();
        },
        (error: unknown) => {
          const refused = error instanceof InvalidTokenError ? error : new InvalidTokenError("invalid");
          unauthorized(request, reply, refused.message, "invalid_token", refused.type);
        },
      );
    };
    route.onRequest = [...(route.onRequest ? [route.onRequest].flat() : []), hook] as typeof route.onRequest;
  });
}

const userOf = (claims: AccessClaims): AuthUser => ({
  id: claims.userId,
  role: claims.role,
  email: claims.email,
  ...(claims.mustChangePassword ? { mustChangePassword: true } : {}),
});

function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
