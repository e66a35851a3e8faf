import type { IncomingMessage, ServerResponse } from "node:http";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Role } from "@finanzas/contracts";
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from "fastify";

/**
 * The types every route and plugin registers against: the Fastify instance buildApp makes, and what
 * the app adds to Fastify's route config and request. They import nothing of the app's own, so a
 * route or plugin depends on this module, never on app.ts (which depends on them).
 */

/** The Fastify instance buildApp makes: TypeBox schemas type the routes. */
export type AppInstance = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** The caller, once the auth hook (plugins/auth.ts) verified their access token. */
export interface AuthUser {
  id: string;
  role: Role;
  email: string;
  /** Only POST /auth/password is open to this user until they change their password. */
  mustChangePassword?: boolean | undefined;
}

/**
 * Who may call a route: "public"; a list of roles; or "metrics" (admins, or the METRICS_TOKEN).
 * A route without `access` does not exist: buildApp refuses to start.
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
