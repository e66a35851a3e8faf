import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Role } from "@finanzas/contracts";
import { errors, jwtVerify, SignJWT } from "jose";

const ISSUER = "finanzas-web-api";
const AUDIENCE = "finanzas-api";

export interface AccessClaims {
  userId: string;
  role: Role;
  email: string;
}

export interface TokenSigner {
  readonly accessTtlSeconds: number;
  sign(claims: AccessClaims): Promise<string>;
  /** The claims of a valid token; throws InvalidTokenError (expired, forged, malformed, wrong algorithm). */
  verify(token: string): Promise<AccessClaims>;
  /**
   * Synchronously, the claims of a token that already passed `verify` and has not expired; null
   * otherwise (then call `verify`, which also says why). The hot path of authenticated reads.
   */
  known(token: string): AccessClaims | null;
}

export class InvalidTokenError extends Error {
  constructor(readonly reason: "expired" | "invalid") {
    super(reason === "expired" ? "the access token has expired: refresh it" : "the access token is invalid");
  }
}

const ROLES = new Set<string>(["admin", "finance", "viewer"]);

/** HS256 access tokens: short-lived, verified with the algorithm pinned (no `none`, no key confusion). */
export function createTokenSigner(
  secret: string,
  accessTtlSeconds: number,
  now = () => Date.now(),
): TokenSigner {
  const key = new TextEncoder().encode(secret);
  // Verified tokens, remembered until they expire: HMAC verification is the costliest step of a
  // cached read. Only tokens that passed full verification get here; expiry is still checked.
  const verified = new Map<string, { claims: AccessClaims; exp: number }>();
  const MAX_REMEMBERED = 10_000;
  return {
    accessTtlSeconds,
    async sign({ userId, role, email }) {
      const iat = Math.floor(now() / 1000);
      return new SignJWT({ role, email })
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
      return known && known.exp * 1000 > now() ? known.claims : null;
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.exp * 1000 > now()) return known.claims;
        verified.delete(token);
        throw new InvalidTokenError("expired");
      }
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
          currentDate: new Date(now()),
          requiredClaims: ["sub", "exp", "iat"],
        });
        const role = payload.role;
        if (typeof role !== "string" || !ROLES.has(role) || typeof payload.sub !== "string") {
          throw new InvalidTokenError("invalid");
        }
        const claims = { userId: payload.sub, role: role as Role, email: String(payload.email ?? "") };
        if (verified.size >= MAX_REMEMBERED) verified.delete(verified.keys().next().value as string);
        verified.set(token, { claims, exp: payload.exp as number });
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
