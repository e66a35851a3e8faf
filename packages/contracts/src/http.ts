import { Type } from "@sinclair/typebox";

/** RFC 9457 problem details: the body of every HTTP error. */
export const ProblemDetails = Type.Object(
  {
    type: Type.String({ description: "A URI identifying the kind of problem", default: "about:blank" }),
    title: Type.String({ description: "Short summary of the kind of problem" }),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.Optional(Type.String({ description: "What went wrong in this request, and what to do" })),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ description: "JSON pointer or parameter name of the bad input" }),
          message: Type.String(),
        }),
      ),
    ),
  },
  { $id: "ProblemDetails", additionalProperties: true },
);

export const HealthLive = Type.Object({ status: Type.Literal("ok") });

export const HealthReady = Type.Object({
  ready: Type.Boolean(),
  status: Type.Union([
    Type.Literal("ready"),
    Type.Literal("degraded"),
    Type.Literal("not ready"),
    Type.Literal("starting"),
    Type.Literal("shutting down"),
  ]),
  checks: Type.Record(Type.String(), Type.String()),
});
