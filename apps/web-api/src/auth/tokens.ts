import { createHash, randomBytes, randomUUID } from "node:crypto";
import { ACCESS_TOKEN_PROBLEM_TYPES, ACCESS_TOKEN_PROBLEMS, type Role } from "@finanzas/contracts";
import { errors, jwtVerify, SignJWT } from "jose";

const ISSUER = "finanzas-web-api";
const AUDIENCE = "finanzas-api";

export interface AccessClaims {
  userId: string;
  role: Role;
  email: string;
  /**
   * The user's token_version when the token was signed (claim `ver`, read in the same row as the
   * role); a later revocation raises it. Omitted: the version this replica knows (see `sign`).
   */
  version?: number | undefined;
  /** The session (refresh-token family) the token belongs to (claim `sid`); logout revokes it. */
  sessionId?: string | undefined;
  /**
   * The user must change their password before anything else (claim `pwc`, from the same row as
   * the role). Changing it raises the version, so a token carrying the claim never outlives it.
   */
  mustChangePassword?: boolean | undefined;
}

export interface TokenSigner {
  readonly accessTtlSeconds: number;
  sign(claims: AccessClaims): Promise<string>;
  /**
   * The claims of a valid token; throws InvalidTokenError (expired, revoked, forged, malformed,
   * wrong algorithm).
   */
  verify(token: string): Promise<AccessClaims>;
  /**
   * Synchronously, the claims of a token that already passed `verify`, has not expired and was not
   * revoked since; null otherwise (then call `verify`, which also says why). The hot path of
   * authenticated reads.
   */
  known(token: string): AccessClaims | null;
}

/** The 401 problem's detail per reason: part of the contract (clients refresh on expired and revoked). */
const MESSAGES = ACCESS_TOKEN_PROBLEMS;

export class InvalidTokenError extends Error {
  /** The problem's `type` URI for this reason. */
  readonly type: string;
  constructor(readonly reason: keyof typeof MESSAGES) {
    super(MESSAGES[reason]);
    this.type = ACCESS_TOKEN_PROBLEM_TYPES[reason];
  }
}

/** What the signer asks about revocations (auth/revocations.ts); both synchronous and O(1). */
export interface RevocationCheck {
  isRevoked(claims: AccessClaims): boolean;
  /** The version to sign when the caller gives none. */
  versionOf(userId: string): number;
}

const NEVER_REVOKED: RevocationCheck = { isRevoked: () => false, versionOf: () => 0 };

const ROLES = new Set<string>(["admin", "finance", "viewer"]);

/** HS256 access tokens: short-lived, verified with the algorithm pinned (no `none`, no key confusion). */
export function createTokenSigner(
  secret: string,
  accessTtlSeconds: number,
  now = () => Date.now(),
  revocations: RevocationCheck = NEVER_REVOKED,
): TokenSigner {
  const key = new TextEncoder().encode(secret);
  // Verified tokens, remembered until they expire: HMAC verification is the costliest step of a
  // cached read. Only tokens that passed full verification get here; expiry and revocation are
  // still checked on every use.
  const verified = new Map<string, { claims: AccessClaims; exp: number }>();
  const MAX_REMEMBERED = 10_000;
  return {
    accessTtlSeconds,
    async sign({ userId, role, email, version, sessionId, mustChangePassword }) {
      const iat = Math.floor(now() / 1000);
      const ver = version ?? revocations.versionOf(userId);
      return new SignJWT({
        role,
        email,
        ver,
        ...(sessionId === undefined ? {} : { sid: sessionId }),
        ...(mustChangePassword ? { pwc: true } : {}),
      })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(iat + accessTtlSeconds)
        .setJti(randomUUID())
        .sign(key);
    },
    known(token) {
      const known = verified.get(token);
      return known && known.exp * 1000 > now() && !revocations.isRevoked(known.claims) ? known.claims : null;
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.exp * 1000 <= now()) {
          verified.delete(token);
          throw new InvalidTokenError("expired");
        }
        // Kept while revoked: replaying it costs a lookup, not an HMAC.
        if (revocations.isRevoked(known.claims)) throw new InvalidTokenError("revoked");
        return known.claims;
      }
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: new Date(now()),
          requiredClaims: ["sub", "exp", "iat"],
        });
        const { role, ver, sid, pwc } = payload;
        if (
          typeof role !== "string" ||
          !ROLES.has(role) ||
          typeof payload.sub !== "string" ||
          (ver !== undefined && !(Number.isSafeInteger(ver) && (ver as number) >= 0)) ||
          (sid !== undefined && typeof sid !== "string") ||
          (pwc !== undefined && pwc !== true)
        ) {
          throw new InvalidTokenError("invalid");
        }
        // Tokens signed before versions existed carry none: version 0, revoked by any revocation.
        const claims: AccessClaims = {
          userId: payload.sub,
          role: role as Role,
          email: String(payload.email ?? ""),
          version: (ver as number | undefined) ?? 0,
          sessionId: sid as string | undefined,
          ...(pwc === true ? { mustChangePassword: true } : {}),
        };
        if (verified.size >= MAX_REMEMBERED) verified.delete(verified.keys().next().value as string);
        verified.set(token, { claims, exp: payload.exp as number });
        if (revocations.isRevoked(claims)) throw new InvalidTokenError("revoked");
        return claims;
      } catch (error) {
        if (error instanceof InvalidTokenError) throw error;
        if (error instanceof errors.JWTExpired) throw new InvalidTokenError("expired");
        throw new InvalidTokenError("invalid");
      }
    },
  };
}

/** An opaque refresh token (256 random bits) and the hash stored in its place. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}

export const hashRefreshToken = (token: string): string => createHash("sha256").update(token).digest("hex");

/** A random secret for development, so nobody ships a well-known default. */
export const generateSecret = (): string => randomBytes(48).toString("base64url");
