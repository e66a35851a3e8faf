import { type Static, Type } from "@sinclair/typebox";

/*
 * Access-token revocation between web-api replicas. Access tokens are verified without a database
 * round trip, so each replica keeps in memory what was revoked within an access-token lifetime;
 * the replica that revokes publishes it here, the others apply it on receipt. At-most-once, like any
 * pub/sub: replicas also re-read PostgreSQL (the source of truth) periodically and on reconnect.
 */
export const TokensRevoked = Type.Union([
  Type.Object(
    {
      /** Every access token of this user issued under a version below `version` is revoked. */
      kind: Type.Literal("user"),
      userId: Type.String({ minLength: 1, maxLength: 64 }),
      version: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      /** Every access token of this session (refresh-token family) is revoked: logout, reuse. */
      kind: Type.Literal("session"),
      sessionId: Type.String({ minLength: 1, maxLength: 64 }),
    },
    { additionalProperties: false },
  ),
]);
export type TokensRevoked = Static<typeof TokensRevoked>;

/**
 * The Redis pub/sub channel of TokensRevoked messages (JSON text), namespaced by QUEUE_PREFIX like
 * the ETL's data-changed channel: `${prefix}:web-api:tokens-revoked`.
 */
export const tokensRevokedChannel = (prefix: string): string => `${prefix}:web-api:tokens-revoked`;
