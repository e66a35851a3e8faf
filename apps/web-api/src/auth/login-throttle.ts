import { createHash } from "node:crypto";
import type { Logger } from "@finanzas/logger";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { redisWithin } from "../deadline.js";
import { sendProblem } from "../problem.js";

/**
 * The login throttle: failed sign-ins counted per client address and per account, one budget for
 * every route that checks a password (POST /api/v1/auth/login and the queue dashboard's form at
 * POST /admin/login). Refresh and logout take no password, only a refresh token (256 random bits,
 * single use): there is nothing to guess there, so they are not counted.
 *
 * - An attempt is counted *before* the password is checked, on both keys at once (a Lua script:
 *   INCR, and the window's expiry set by the first failure), so concurrent guesses cannot all slip
 *   in before the first is counted. An attempt beyond `max` on either key is refused with the time
 *   left in that key's window, without spending a password verification.
 * - A successful sign-in gives the attempt back to its address and clears its account's count:
 *   the budget is spent by wrong guesses only, and people behind one address who sign in
 *   correctly do not lock each other out. An attacker can lock an account for one window at most.
 * - Every count is also kept in process. When Redis does not answer (down, or slower than
 *   `redisTimeoutMs`), the in-process counts decide alone, so guessing is still limited, per
 *   replica; when Redis answers, the larger of its count and the local one decides (a Redis that
 *   restarted empty does not reset a window this replica saw).
 *
 * Windows start at a key's first failure and last `windowMs`: after `max` failures the key is
 * refused until its window ends (Retry-After).
 */
export interface LoginThrottle {
  /** Counts a sign-in attempt; resolves to 0 when it may proceed, else the milliseconds to wait. */
  attempt(address: string, email: string): Promise<number>;
  /** The attempt succeeded: give it back to the address, clear the account's count. */
  succeeded(address: string, email: string): Promise<void>;
  readonly max: number;
  /** Keys counted in process (tests). */
  readonly localKeys: number;
}

export interface LoginThrottleOptions {
  redis: Redis;
  /** Key prefix, e.g. `${QUEUE_PREFIX}:login:`. */
  keyPrefix: string;
  max: number;
  windowMs: number;
  logger?: Logger;
  /** How long a Redis call may take before the in-process counts decide alone (default 300 ms). */
  redisTimeoutMs?: number;
  now?: () => number;
  /** Keys kept in process before expired ones are swept (default 100 000). */
  maxLocalKeys?: number;
}

// KEYS: the keys to count; ARGV[1]: the window (ms). Returns count, ms left, count, ms left, …
const ATTEMPT = `
local out = {}
for _, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out`;

// KEYS[1]: the address key (decremented while it lives), KEYS[2]: the account key (deleted).
const SUCCEEDED = `
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  redis.call('DECR', KEYS[1])
end
redis.call('DEL', KEYS[2])
return 1`;

interface Local {
  count: number;
  resetAt: number;
}

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { redis, keyPrefix, max, windowMs, logger } = options;
  const now = options.now ?? Date.now;
  const timeoutMs = options.redisTimeoutMs ?? 300;
  const maxLocalKeys = options.maxLocalKeys ?? 100_000;
  const local = new Map<string, Local>();
  let warned = false;

  // An address as Fastify gives it; an account by a hash of its lower-cased email (no emails in Redis).
  const keysOf = (address: string, email: string): [string, string] => [
    `${keyPrefix}addr:${address}`,
    `${keyPrefix}acct:${createHash("sha256").update(email.trim().toLowerCase()).digest("base64url")}`,
  ];

  const sweep = (t: number) => {
    for (const [key, entry] of local) if (entry.resetAt <= t) local.delete(key);
  };

  const countLocally = (key: string, t: number): Local => {
    let entry = local.get(key);
    if (entry === undefined || entry.resetAt <= t) {
      if (local.size >= maxLocalKeys) sweep(t);
      entry = { count: 0, resetAt: t + windowMs };
      local.set(key, entry);
    }
    entry.count++;
    return entry;
  };

  const redisFailed = (error: unknown) => {
    if (warned) return;
    warned = true;
    logger?.warn(
      { err: error },
      "cannot count login attempts in Redis: each replica limits them with its own counts until it answers",
    );
  };

  return {
    max,
    get localKeys() {
      return local.size;
    },
    async attempt(address, email) {
      const keys = keysOf(address, email);
      const t = now();
      // This attempt's number on each key (a snapshot: concurrent attempts raise the entries after it).
      const entries = keys.map((key) => countLocally(key, t));
      const counts = entries.map((entry) => ({ count: entry.count, resetAt: entry.resetAt }));
      try {
        const reply = (await redisWithin(
          redis,
          timeoutMs,
          "login throttle",
          () => redis.eval(ATTEMPT, keys.length, ...keys, windowMs) as Promise<number[]>,
        )) as number[];
        keys.forEach((_, i) => {
          const count = Number(reply[i * 2]);
          const resetAt = t + Number(reply[i * 2 + 1]);
          const mine = counts[i]!;
          if (count > mine.count) {
            mine.count = count;
            mine.resetAt = resetAt;
          }
          // The cluster's count when it is ahead of ours: kept, so it still holds if Redis goes away.
          const entry = entries[i]!;
          if (count > entry.count) {
            entry.count = count;
            entry.resetAt = resetAt;
          }
        });
        warned = false;
      } catch (error) {
        redisFailed(error);
      }
      let wait = 0;
      for (const c of counts) if (c.count > max) wait = Math.max(wait, c.resetAt - t);
      return wait > 0 ? Math.max(wait, 1000) : 0;
    },
    async succeeded(address, email) {
      const keys = keysOf(address, email);
      const t = now();
      const byAddress = local.get(keys[0]);
      if (byAddress && byAddress.resetAt > t && byAddress.count > 0) byAddress.count--;
      local.delete(keys[1]);
      try {
        await redisWithin(redis, timeoutMs, "login throttle", () => redis.eval(SUCCEEDED, 2, ...keys));
      } catch (error) {
        redisFailed(error);
      }
    },
  };
}

/** The 429 of a throttled sign-in: problem+json with Retry-After (whole seconds, at least 1). */
export function sendThrottled(request: FastifyRequest, reply: FastifyReply, waitMs: number): FastifyReply {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  reply.header("retry-after", String(seconds));
  return sendProblem(request, reply, { status: 429, detail: throttledDetail(seconds) });
}

export const throttledDetail = (seconds: number): string =>
  `too many failed sign-ins for this account or from this address: try again in ${seconds} s`;
