import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from "fastify";
import type { AppInstance } from "../app-types.js";

/**
 * Security headers, CORS and the request id, set in one synchronous onRequest hook from header sets
 * computed once at start (no per-request directive building, as @fastify/helmet and @fastify/cors
 * did). Fewer headers per response, too: only those that mean something for a JSON API.
 *
 * JSON API responses (OWASP REST Security Cheat Sheet, "Security headers"):
 *   Cache-Control: no-store (cached finance reads replace it with `private, no-cache` + ETag)
 *   Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
 *   X-Content-Type-Options: nosniff
 *   X-Frame-Options: DENY
 *   Referrer-Policy: no-referrer
 *   Cross-Origin-Resource-Policy: same-origin (CORS requests from the allowed origins are not affected)
 *   Strict-Transport-Security: max-age=31536000; includeSubDomains (production only)
 *
 * HTML pages (Swagger UI at /docs, the /admin/login form) get helmet's former set with its CSP
 * (scripts and styles from 'self'); bull-board's pages (/admin/queues) the same without a CSP
 * (its page uses inline scripts), as before.
 */
export const HSTS = "max-age=31536000; includeSubDomains";

export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
});

export const HTML_CSP =
  "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; upgrade-insecure-requests";

/** Added to (and overriding) the API set on HTML pages. */
const HTML_EXTRA: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": HTML_CSP,
  "cross-origin-opener-policy": "same-origin",
  "origin-agent-cluster": "?1",
  "x-dns-prefetch-control": "off",
  "x-download-options": "noopen",
  "x-permitted-cross-domain-policies": "none",
  "x-xss-protection": "0",
});

export type PageKind = "api" | "html" | "html-no-csp";

/** Which header set a route gets, by its URL. */
export function pageKindOf(url: string): PageKind {
  if (url.startsWith("/admin/queues")) return "html-no-csp";
  if (url === "/docs" || url.startsWith("/docs/") || url === "/admin/login") return "html";
  return "api";
}

export interface HeadersOptions {
  production: boolean;
  /** CORS_ORIGINS, already split; "*" allows any origin. */
  origins: string[];
}

const CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS";
const CORS_ALLOWED_HEADERS = "authorization, content-type, if-none-match, x-request-id";
const CORS_EXPOSED_HEADERS =
  "etag, x-request-id, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";
const CORS_MAX_AGE = "600";

export function registerHeaders(app: AppInstance, options: HeadersOptions): void {
  const wildcard = options.origins.includes("*");
  const base: Record<string, string> = { ...API_SECURITY_HEADERS };
  if (options.production) base["strict-transport-security"] = HSTS;
  // The answer depends on Origin when only some origins are allowed: say so to every cache.
  if (!wildcard) base.vary = "Origin";
  const noOrigin = Object.freeze({ ...base });
  const corsFor = (origin: string) =>
    Object.freeze({
      ...base,
      "access-control-allow-origin": origin,
      "access-control-expose-headers": CORS_EXPOSED_HEADERS,
    });
  const byOrigin = new Map<string, Readonly<Record<string, string>>>(
    wildcard ? [] : options.origins.map((o) => [o, corsFor(o)]),
  );
  const anyOrigin = wildcard ? corsFor("*") : undefined;

  const headersFor = (request: FastifyRequest): Readonly<Record<string, string>> => {
    const origin = request.headers.origin;
    if (origin === undefined) return noOrigin;
    return anyOrigin ?? byOrigin.get(origin) ?? noOrigin;
  };

  app.addHook("onRequest", (request, reply, done) => {
    reply.headers(headersFor(request));
    reply.header("x-request-id", request.id);
    done();
  });

  // HTML pages: a richer set on top of the API one (route-level hook, so API routes never pay for it).
  const htmlHook: onRequestHookHandler = (_request, reply, done) => {
    reply.headers(HTML_EXTRA);
    done();
  };
  const htmlNoCspHook: onRequestHookHandler = (_request, reply, done) => {
    reply.headers(HTML_EXTRA);
    reply.removeHeader("content-security-policy");
    done();
  };
  app.addHook("onRoute", (route: RouteOptions) => {
    const kind = pageKindOf(route.url);
    if (kind === "api") return;
    const hook = kind === "html" ? htmlHook : htmlNoCspHook;
    route.onRequest = [hook, ...(route.onRequest ? [route.onRequest].flat() : [])] as typeof route.onRequest;
  });

  // CORS preflight, for every path: allowed origins get the methods and headers; others nothing.
  const preflightFor = (origin: string) => ({
    "access-control-allow-methods": CORS_METHODS,
    "access-control-allow-headers": CORS_ALLOWED_HEADERS,
    "access-control-max-age": CORS_MAX_AGE,
    ...(wildcard ? { "access-control-allow-origin": "*" } : { "access-control-allow-origin": origin }),
  });
  app.options(
    "*",
    { schema: { hide: true }, config: { access: "public" } },
    (request: FastifyRequest, reply: FastifyReply) => {
      const origin = request.headers.origin;
      if (typeof origin === "string" && (wildcard || byOrigin.has(origin)))
        reply.headers(preflightFor(origin));
      reply.code(204).send();
    },
  );
}
