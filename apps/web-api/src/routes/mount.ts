import { type ApiRoute, type ApiRouteName, type ApiRoutes, apiRoutes } from "@finanzas/contracts";
import type { Static, TSchema } from "@sinclair/typebox";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, LogLevel } from "fastify";
import { prefersOverJson } from "../accept.js";
import type { AppInstance, AuthUser } from "../app-types.js";
import { type CachedReplyDeps, cachedHandler } from "../cached-reply.js";
import { HttpProblem } from "../problem.js";
import { problemRef, problemResponses } from "../problem-schemas.js";

type Part<R, K extends string> = R extends { [P in K]: infer T extends TSchema } ? Static<T> : undefined;
type Success<R> = R extends { response: infer Resp }
  ? { [K in keyof Resp]: Resp[K] extends TSchema ? Static<Resp[K]> : never }[keyof Resp]
  : never;

export interface RouteContext<R> {
  query: Part<R, "querystring">;
  params: Part<R, "params">;
  body: Part<R, "body">;
  /** The authenticated user; null on public routes. */
  user: AuthUser | null;
  request: FastifyRequest;
  reply: FastifyReply;
}

export type RouteHandler<N extends ApiRouteName> = (
  ctx: RouteContext<ApiRoutes[N]>,
) => Promise<Success<ApiRoutes[N]>>;

/**
 * A route's 4xx answers, by status: those every route of its kind may give, then its own from the
 * catalog (see ApiRoute.problems). Documented one by one in OpenAPI, each as problem+json.
 */
export function problemsOf(route: ApiRoute): Record<number, string> {
  const problems: Record<number, string> = {};
  if (route.params || route.querystring || route.body) {
    problems[400] = "Invalid request: the problem's `errors` name each bad field";
  }
  if (route.access !== "public") {
    problems[401] = "No valid bearer access token (missing, expired or revoked: refresh it, or log in again)";
    if (route.access.length < 3) problems[403] = `Only ${route.access.join(", ")} may call this`;
  }
  if (route.params) problems[404] = "Not found (or not visible to the caller)";
  if (route.body) {
    problems[413] = "The body is larger than the server accepts";
    problems[415] = "The body is not JSON";
  }
  problems[429] = "Too many requests from this client; Retry-After says when to try again";
  return { ...problems, ...route.problems };
}

/** What a route's mount needs: the read cache and the metrics its cached reads count in. */
export type MountDeps = CachedReplyDeps;

/** The page of a route's error (a route whose catalog entry has `errorPage`), given its status. */
export type ErrorPage = (
  error: FastifyError,
  request: FastifyRequest,
  status: number,
) => string | Promise<string>;

/** The status an error is answered with (as the app's problem handler answers it). */
const statusOf = (error: FastifyError) =>
  error instanceof HttpProblem
    ? error.status
    : error.validation
      ? 400
      : error.statusCode && error.statusCode >= 400 && error.statusCode < 600
        ? error.statusCode
        : 500;

/**
 * Registers a route of the contracts' catalog: its schemas validate the request, serialise the
 * response and document it in OpenAPI; its `access` decides who may call it; cached routes answer
 * through cached-reply.ts (the read cache, ETag and 304, gzip). The success status is the route's
 * first one. A route whose entry has `errorPage` answers its errors with `options.errorPage` to a
 * client that prefers its page to JSON (a browser), and problem+json to any other.
 */
export function mount<N extends ApiRouteName>(
  app: AppInstance,
  deps: MountDeps,
  name: N,
  handler: RouteHandler<N>,
  options: { config?: Record<string, unknown>; errorPage?: ErrorPage; logLevel?: LogLevel } = {},
): void {
  const route: ApiRoute = apiRoutes[name];
  const status = Number(Object.keys(route.response)[0]);
  // A page (text/html) is sent as the handler made it, and documented in its media type.
  const contentType = route.contentType;
  const success = contentType
    ? Object.fromEntries(
        Object.entries(route.response).map(([code, schema]) => [
          code,
          { description: schema.description ?? "OK", content: { [contentType.split(";")[0]!]: { schema } } },
        ]),
      )
    : route.response;
  const media = contentType?.split(";")[0];
  const errorPage = route.errorPage && media ? options.errorPage : undefined;
  if (route.errorPage && !errorPage) {
    throw new Error(
      `route ${name} declares an error page: mount it with a contentType and options.errorPage`,
    );
  }
  // Each problem answer as problem+json; with an error page, also as that page to a client that
  // prefers it to JSON (a browser).
  const withPage = <T extends { description: string; content: Record<string, { schema: TSchema }> }>(
    answer: T,
  ): T =>
    errorPage && media && route.errorPage
      ? {
          ...answer,
          description: `${answer.description} (a page, ${media}, to a client that prefers it to JSON)`,
          content: { ...answer.content, [media]: { schema: route.errorPage } },
        }
      : answer;
  const call = (request: FastifyRequest, reply: FastifyReply) =>
    handler({
      query: request.query as never,
      params: request.params as never,
      body: request.body as never,
      user: request.user,
      request,
      reply,
    });

  // The catalog is typed per route above; Fastify sees plain schemas (its inference over the whole
  // catalog would be needlessly deep).
  (app as unknown as FastifyInstance).route({
    method: route.method,
    url: route.url,
    config: { ...options.config, access: route.access, routeName: name },
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    schema: {
      operationId: name,
      summary: route.summary,
      tags: [route.tag],
      // Public only where the catalog says so; the document's default (bearerAuth) covers the rest.
      security: route.access === "public" ? [] : [{ bearerAuth: [] }],
      ...(route.params ? { params: route.params } : {}),
      ...(route.querystring ? { querystring: route.querystring } : {}),
      ...(route.body ? { body: route.body } : {}),
      response: {
        ...success,
        ...Object.fromEntries(
          Object.entries(problemResponses(problemsOf(route))).map(([code, answer]) => [code, withPage(answer)]),
        ),
        "5xx": withPage({
          description:
            "The server failed, or a service it needs (PostgreSQL, Redis) did not answer: retry later",
          content: { "application/problem+json": { schema: problemRef } },
        }),
      },
    },
    ...(errorPage
      ? {
          // a browser gets a page; any other client the app's problem+json (this handler's parent)
          errorHandler: async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
            reply.header("vary", "Accept");
            if (!prefersOverJson(request.headers.accept, media!)) throw error;
            const status = statusOf(error);
            if (status >= 500) request.log.error({ err: error }, "request failed");
            const html = await errorPage(error, request, status);
            return reply.code(status).type(contentType!).send(html);
          },
        }
      : {}),
    handler: route.cached
      ? cachedHandler(deps, name, call, status)
      : async (request, reply) => {
          const data = await call(request, reply);
          if (data === reply) return reply; // the handler sent its own answer (a file, a redirect)
          reply.code(status);
          if (contentType) reply.type(contentType);
          return status === 204 ? reply.send(null) : data;
        },
  });
}
