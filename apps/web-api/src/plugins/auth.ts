import type { Role } from "@finanzas/contracts";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppInstance } from "../app.js";
import { InvalidTokenError, type TokenSigner } from "../auth/tokens.js";
import { sendProblem } from "../problem.js";

export interface AuthUser {
  id: string;
  role: Role;
  email: string;
}

/**
 * Who may call a route: "public"; a list of roles; or "metrics" (admins, or the METRICS_TOKEN).
 * A route without `access` does not exist: buildApp refuses to start (see assertEveryRouteAuthorised).
 */
export type Access = "public" | readonly Role[] | "metrics";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
    /** Name of the route in the contracts' catalog. */
    routeName?: string;
  }
  interface FastifyRequest {
    user: AuthUser | null;
  }
}

const bearer = (request: FastifyRequest): string | undefined => {
  const header = request.headers.authorization;
  if (typeof header === "string" && header.startsWith("Bearer ")) return header.slice(7).trim();
  return undefined;
};

export const ADMIN_COOKIE = "finanzas_admin";

/** The access token from the Authorization header, or (bull-board's pages only) from the admin cookie. */
export function tokenOf(request: FastifyRequest, allowCookie: boolean): string | undefined {
  const fromHeader = bearer(request);
  if (fromHeader || !allowCookie) return fromHeader;
  const cookies = request.headers.cookie ?? "";
  for (const part of cookies.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === ADMIN_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

function unauthorized(
  request: FastifyRequest,
  reply: FastifyReply,
  detail: string,
  error?: string,
): FastifyReply {
  reply.header(
    "www-authenticate",
    error ? `Bearer realm="finanzas", error="${error}"` : `Bearer realm="finanzas"`,
  );
  return sendProblem(request, reply, { status: 401, detail });
}

export interface AuthOptions {
  signer: TokenSigner;
  metricsToken: string | undefined;
  /** Routes under this prefix accept the admin cookie as well as the header. */
  cookiePrefix: string;
}

/** Every request: authenticate when the route needs it, then check the role. */
export function registerAuth(app: AppInstance, options: AuthOptions): void {
  app.decorateRequest("user", null);
  app.addHook("onRequest", async (request, reply) => {
    const access = request.routeOptions.config.access;
    if (access === undefined) {
      // Only Fastify's own 404 handler has no access rule (routes without one are refused at boot).
      return;
    }
    if (access === "public") return;
    const token = tokenOf(request, request.url.startsWith(options.cookiePrefix));
    if (access === "metrics" && token && options.metricsToken && safeEqual(token, options.metricsToken))
      return;
    if (!token) return unauthorized(request, reply, "this route needs a bearer access token: log in first");
    let user: AuthUser;
    try {
      const claims = await options.signer.verify(token);
      user = { id: claims.userId, role: claims.role, email: claims.email };
    } catch (error) {
      const detail = error instanceof InvalidTokenError ? error.message : "the access token is invalid";
      return unauthorized(request, reply, detail, "invalid_token");
    }
    request.user = user;
    const allowed: readonly Role[] = access === "metrics" ? ["admin"] : access;
    if (!allowed.includes(user.role)) {
      return sendProblem(request, reply, {
        status: 403,
        detail: `role ${user.role} may not ${request.method} ${request.routeOptions.url}; allowed: ${allowed.join(", ")}`,
      });
    }
  });
}

function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
