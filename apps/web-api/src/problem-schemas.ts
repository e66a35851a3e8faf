import { ProblemDetails } from "@finanzas/contracts";
import type { TSchema } from "@sinclair/typebox";

/*
 * How routes document their problem answers (RFC 9457, application/problem+json) in the OpenAPI
 * document: ProblemDetails is added to the app once (plugins/openapi.ts) and referenced by $id.
 */

const problemId = ProblemDetails.$id;
/** ProblemDetails, added once to the app (registerOpenApi): one component of the OpenAPI document. */
export const problemRef = { $ref: `${problemId}#` } as unknown as TSchema;

/** Response schemas of problem answers, one per status, each documented with when it happens. */
export const problemResponses = (
  problems: Record<number, string>,
): Record<string, { description: string; content: Record<string, { schema: TSchema }> }> =>
  Object.fromEntries(
    Object.entries(problems).map(([code, description]) => [
      code,
      { description, content: { "application/problem+json": { schema: problemRef } } },
    ]),
  );
