import { isConnectionError } from "@finanzas/db";
import { LedgerError, NotSyncedError } from "@finanzas/ledger";
import { isRedisUnavailable } from "@finanzas/queue";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  status: number;
  detail?: string;
  errors?: FieldError[];
  type?: string;
  title?: string;
}

/** Thrown by handlers for an expected 4xx: becomes a problem+json with this status and detail. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
    this.name = "HttpProblem";
  }
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: problem.type ?? "about:blank",
      title: problem.title ?? TITLES[problem.status] ?? "Error",
      status: problem.status,
      ...(problem.detail ? { detail: problem.detail } : {}),
      instance: request.url,
      requestId: request.id,
      ...(problem.errors ? { errors: problem.errors } : {}),
    });
}

const CONTEXT_NAMES: Record<string, string> = {
  querystring: "query",
  params: "path",
  body: "body",
  headers: "header",
};

/**
 * Fastify's validation errors → one entry per bad field, named by where it was and its path:
 * `query.limit`, `body.email`, `body.models.0`, `path.id`; unknown fields by their own name.
 */
export function validationErrors(error: FastifyError): FieldError[] {
  const context = CONTEXT_NAMES[error.validationContext ?? ""] ?? error.validationContext ?? "request";
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const v of error.validation ?? []) {
    const params = v.params as {
      missingProperty?: string;
      additionalProperty?: string;
      allowedValues?: unknown[];
      tag?: string;
      tagValue?: unknown;
    };
    const path = v.instancePath.replace(/^\//, "").replace(/\//g, ".");
    if (v.keyword === "discriminator" && params.tag) {
      // a union told apart by a literal property (validation.ts): that property is the bad field
      const branches = (
        v as { parentSchema?: { oneOf?: { properties?: Record<string, { const?: unknown }> }[] } }
      ).parentSchema?.oneOf;
      const values = branches?.map((b) => b.properties?.[params.tag!]?.const).filter((c) => c !== undefined);
      errors.push({
        field: [context, path, params.tag].filter(Boolean).join("."),
        message:
          params.tagValue === undefined
            ? "is required"
            : `must be one of ${values?.join(", ") ?? "the accepted values"}`,
      });
      continue;
    }
    if (v.keyword === "oneOf") continue; // its branches' own errors say what is wrong
    const leaf = params.missingProperty ?? params.additionalProperty;
    const field = [context, path, leaf].filter(Boolean).join(".");
    let message = v.message ?? "is invalid";
    if (params.additionalProperty) message = "is not an accepted field";
    else if (params.missingProperty) message = "is required";
    // anyOf over literals reports each literal then "must match a schema in anyOf": keep one line.
    if (v.keyword === "const" || v.keyword === "anyOf") {
      const schema = (v as { parentSchema?: { anyOf?: { const?: unknown }[] } }).parentSchema;
      const values = schema?.anyOf?.map((s) => s.const).filter((c) => c !== undefined);
      if (v.keyword === "const") continue;
      message = values?.length ? `must be one of ${values.join(", ")}` : "is not one of the accepted values";
    }
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push({ field, message });
  }
  return errors;
}

/**
 * PostgreSQL's "relation does not exist" (42P01) for a table of the `odoo` schema: the web-api
 * started before any etl-worker created the synced tables. Our own tables are never excused.
 */
function missingSyncedTable(error: unknown): string | undefined {
  const e = error as { code?: unknown; message?: unknown };
  if (e.code !== "42P01" || typeof e.message !== "string") return undefined;
  return /relation "(odoo\.\w+)" does not exist/.exec(e.message)?.[1];
}

/** What a 503 for an unavailable database tells the client to wait (Retry-After, seconds). */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** What a 503 for an unreachable queue Redis tells the client to wait (Retry-After, seconds). */
export const REDIS_RETRY_AFTER_SECONDS = 5;

/** What a 503 for a question the first sync cannot answer yet tells the client to wait (seconds). */
export const NOT_SYNCED_RETRY_AFTER_SECONDS = 30;

/** Every error leaves as RFC 9457 problem+json; 5xx details stay in the logs. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpProblem) {
      return sendProblem(request, reply, {
        status: error.status,
        detail: error.detail,
        ...(error.errors ? { errors: error.errors } : {}),
      });
    }
    if (error instanceof LedgerError) {
      // A finance query's refusal: its parameters are the request's query parameters.
      if (error instanceof NotSyncedError)
        reply.header("retry-after", String(NOT_SYNCED_RETRY_AFTER_SECONDS));
      return sendProblem(request, reply, {
        status: error.status,
        detail: error.message,
        ...(error.params.length
          ? { errors: error.params.map((p) => ({ field: `query.${p.param}`, message: p.message })) }
          : {}),
      });
    }
    if (error.validation) {
      const errors = validationErrors(error);
      return sendProblem(request, reply, {
        status: 400,
        detail: `invalid request: ${errors.map((e) => `${e.field} ${e.message}`).join("; ")}`,
        errors,
      });
    }
    if (error.code === "FST_ERR_CTP_INVALID_JSON_BODY" || error instanceof SyntaxError) {
      return sendProblem(request, reply, {
        status: 400,
        detail: "the body is not valid JSON",
        errors: [{ field: "body", message: "is not valid JSON" }],
      });
    }
    if (error.code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
      return sendProblem(request, reply, {
        status: 400,
        detail: "the body is empty but the content-type says JSON",
        errors: [{ field: "body", message: "is empty" }],
      });
    }
    if (isConnectionError(error)) {
      // PostgreSQL restarting, a terminated backend, the pool out of connections: nothing wrong
      // with the request, which succeeds once the database answers again (the pool reconnects).
      request.log.warn({ err: error }, "database unavailable");
      reply.header("retry-after", String(DATABASE_RETRY_AFTER_SECONDS));
      return sendProblem(request, reply, {
        status: 503,
        detail: `the database is not answering right now (connection lost or refused): retry in ${DATABASE_RETRY_AFTER_SECONDS} seconds`,
      });
    }
    if (isRedisUnavailable(error)) {
      // The queue Redis down, restarting or frozen: enqueueing (syncs, reports, mailings) and the
      // queue's views wait for it; finance reads do not use it and keep answering.
      request.log.warn({ err: error }, "Redis unavailable");
      reply.header("retry-after", String(REDIS_RETRY_AFTER_SECONDS));
      return sendProblem(request, reply, {
        status: 503,
        detail: `the job queue (Redis) is not answering right now: nothing was queued; retry in ${REDIS_RETRY_AFTER_SECONDS} seconds (finance reads still answer)`,
      });
    }
    if ((error as { code?: unknown }).code === "57014") {
      // query_canceled: the statement timeout of the aging report or the dashboard, or an operator.
      return sendProblem(request, reply, {
        status: 503,
        detail:
          "the database stopped this read before it finished (it ran past REPORT_STATEMENT_TIMEOUT_MS, or was cancelled): retry later, or narrow it (companyId, partnerId)",
      });
    }
    const missing = missingSyncedTable(error);
    if (missing) {
      return sendProblem(request, reply, {
        status: 503,
        detail: `${missing} is not synced yet (table ${missing} does not exist): start the etl-worker, which creates the odoo tables, and run a sync (POST /api/v1/sync/runs)`,
      });
    }
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, "request failed");
      return sendProblem(request, reply, {
        status,
        detail: "an unexpected error occurred; the request id is in the logs",
      });
    }
    return sendProblem(request, reply, { status, detail: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, {
      status: 404,
      detail: `no route for ${request.method} ${request.url.split("?")[0]}`,
    }),
  );
}
