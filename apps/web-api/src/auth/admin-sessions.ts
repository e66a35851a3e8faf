import { createHash, randomBytes } from "node:crypto";
import type { Database, Kysely } from "@finanzas/db";
import type { Redis } from "ioredis";
import type { AuthUser } from "../app-types.js";
import { redisWithin } from "../deadline.js";
import { findUserById } from "./users.js";

/**
 * Sessions of the queue dashboard (bull-board at /admin/queues), apart from the API's tokens: the
 * cookie holds 256 random bits, and Redis holds, under the SHA-256 of that value, whose session it
 * is until it expires. The value is no JWT, so the API refuses it as a bearer token, and the
 * cookie is scoped to /admin/queues, so browsers send it nowhere else.
 *
 * Every request re-reads the user from PostgreSQL: a user demoted, disabled, or whose sessions
 * were revoked (a new password, logout everywhere: its token_version went up) loses the dashboard
 * at once. Logout deletes the session. The dashboard shows queues that live in Redis, so keeping
 * its sessions there adds no dependency.
 */
export const QUEUES_COOKIE = "finanzas_queues";

export interface AdminSessions {
  readonly ttlSeconds: number;
  /** Starts a session for a user; returns the cookie value. */
  create(user: { id: string; token_version: number }): Promise<string>;
  /** The session's user as it is now; null when the session is unknown or expired, or the user disabled or revoked. */
  resolve(cookieValue: string): Promise<AuthUser | null>;
  /** Ends a session (logout). */
  destroy(cookieValue: string): Promise<void>;
}

interface Stored {
  userId: string;
  version: number;
}

const REDIS_TIMEOUT_MS = 2_000;

export function createAdminSessions(options: {
  redis: Redis;
  db: Kysely<Database>;
  /** Key prefix, e.g. `${QUEUE_PREFIX}:admin-queues:session:`. */
  keyPrefix: string;
  ttlSeconds: number;
}): AdminSessions {
  const { redis, db, keyPrefix, ttlSeconds } = options;
  const keyOf = (value: string) => `${keyPrefix}${createHash("sha256").update(value).digest("base64url")}`;
  const valid = (value: string) => /^[A-Za-z0-9_-]{43}$/.test(value);
  const within = <T>(call: () => Promise<T>) =>
    redisWithin(redis, REDIS_TIMEOUT_MS, "the queue dashboard's session store", call);

  return {
    ttlSeconds,
    async create(user) {
      const value = randomBytes(32).toString("base64url");
      const stored: Stored = { userId: user.id, version: user.token_version };
      await within(() => redis.set(keyOf(value), JSON.stringify(stored), "EX", ttlSeconds));
      return value;
    },
    async resolve(value) {
      if (!valid(value)) return null;
      const raw = await within(() => redis.get(keyOf(value)));
      if (!raw) return null;
      const stored = JSON.parse(raw) as Stored;
      const user = await findUserById(db, stored.userId);
      if (!user || user.disabled_at || user.token_version !== stored.version) return null;
      return { id: user.id, role: user.role, email: user.email };
    },
    async destroy(value) {
      if (!valid(value)) return;
      await within(() => redis.del(keyOf(value)));
    },
  };
}

/** A cookie's value from the Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) {
      try {
        return decodeURIComponent(rest.join("="));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
