import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export interface Problem {
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
  type?: string;
  title?: string;
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

/** Fastify's validation errors → one entry per bad field, named by where it was (body, query, params). */
function validationErrors(error: FastifyError): { field: string; message: string }[] {
  const context = error.validationContext ?? "request";
  return (error.validation ?? []).map((v) => {
    const params = v.params as { missingProperty?: string; additionalProperty?: string };
    const path = v.instancePath.replace(/^\//, "").replace(/\//g, ".");
    const field = params.missingProperty ?? params.additionalProperty ?? path;
    const name = [context, field].filter(Boolean).join(".");
    const message = params.additionalProperty ? "is not allowed" : (v.message ?? "is invalid");
    return { field: name, message };
  });
}

/** Every error leaves as RFC 9457 problem+json; 5xx details stay in the logs. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const errors = validationErrors(error);
      return sendProblem(request, reply, {
        status: 400,
        detail: `invalid request: ${errors.map((e) => `${e.field} ${e.message}`).join("; ")}`,
        errors,
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
