import { redactUrl } from "@finanzas/logger";
import { DependencyError, unreachable } from "@finanzas/runtime";
import { Redis, type RedisOptions } from "ioredis";

/** ioredis options from a redis:// or rediss:// URL (user, password, database number, TLS). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

/**
 * How long a command of a request path (producer and client roles) may wait for Redis's answer
 * before it fails: a frozen or partitioned Redis (the connection open, nothing answering) then
 * costs a request this much, never a hang. Workers' connections have none: their blocking commands
 * wait by design, as BullMQ requires. `REDIS_COMMAND_TIMEOUT_MS` in the environment overrides it
 * (a Redis far away, or a host so loaded that its event loop stalls for seconds, as on a shared CI
 * runner: the timer then fires before the answer already in the socket is read).
 */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;

/** The command timeout in force: `REDIS_COMMAND_TIMEOUT_MS` from the environment, else 2 s. */
export function redisCommandTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.REDIS_COMMAND_TIMEOUT_MS?.trim();
  if (!raw) return REDIS_COMMAND_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 100 || value > 600_000)
    throw new Error(
      `REDIS_COMMAND_TIMEOUT_MS must be a whole number of milliseconds between 100 and 600000, got "${raw}"`,
    );
  return value;
}

/**
 * Connection options by role, as BullMQ requires:
 * - worker: blocking commands must wait out reconnects (maxRetriesPerRequest null), and keep
 *   retrying the connection forever;
 * - producer: fail fast (no offline queue, a command timeout), so an HTTP request that enqueues gets
 *   an error instead of hanging while Redis is down or frozen;
 * - client: a command timeout too (cache, rate limits, readiness pings are on request paths).
 */
export function redisOptions(url: string, role: "worker" | "producer" | "client"): RedisOptions {
  const base = { ...redisOptionsFromUrl(url), connectTimeout: 5_000, lazyConnect: false };
  if (role === "worker") return { ...base, maxRetriesPerRequest: null, enableReadyCheck: false };
  if (role === "producer")
    return {
      ...base,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: redisCommandTimeoutMs(),
    };
  return { ...base, maxRetriesPerRequest: 2, commandTimeout: redisCommandTimeoutMs() };
}

/**
 * Whether an error is ioredis's for a Redis that is unreachable or not answering (the command timed
 * out, the connection is down with no offline queue, retries exhausted, the connection closed), as
 * opposed to a command Redis refused: a request that hits it gets a 503 to retry, not a 500.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  if (name === "MaxRetriesPerRequestError") return true;
  if (typeof message !== "string") return false;
  return (
    message === "Command timed out" ||
    message.includes("enableOfflineQueue options is false") ||
    message === "Connection is closed." ||
    message.startsWith("Reached the max retries per request limit")
  );
}

/** A general-purpose client (cache, pub/sub, readiness pings), with the command timeout of request paths. */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis({ ...redisOptions(url, "client"), ...options });
  client.on("error", () => {}); // reported by readiness and by the command that failed
  return client;
}

/** Fails fast at start-up: "cannot reach Redis at redis://… (ECONNREFUSED): start Redis or set REDIS_URL". */
export async function assertRedisReachable(url: string, timeoutMs = 3_000): Promise<void> {
  const probe = new Redis({
    ...redisOptionsFromUrl(url),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  probe.on("error", (error) => {
    lastError = error;
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw unreachable("Redis", url, "REDIS_URL", lastError ?? error);
  } finally {
    probe.disconnect();
  }
}

/**
 * The eviction policy BullMQ needs: Redis must never drop a key to make room (a queue losing a job,
 * a lock, a scheduler silently), so the queue Redis runs `maxmemory-policy noeviction` and answers
 * "OOM" to writes when full instead. A cache belongs in a Redis of its own (CACHE_REDIS_URL).
 */
export const QUEUE_EVICTION_POLICY = "noeviction";

export type EvictionPolicyCheck =
  | { ok: true; policy: string }
  | { ok: false; policy: string }
  | { ok: "unknown"; reason: string };

/**
 * Asks the queue Redis for its `maxmemory-policy` (CONFIG GET). `unknown` when the server does not
 * let us ask (CONFIG disabled or not permitted, as on some managed Redis).
 */
export async function checkEvictionPolicy(url: string, timeoutMs = 3_000): Promise<EvictionPolicyCheck> {
  const probe = new Redis({
    ...redisOptionsFromUrl(url),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    const answer = (await probe.call("CONFIG", "GET", "maxmemory-policy")) as string[];
    const policy = answer[1];
    if (typeof policy !== "string")
      return { ok: "unknown", reason: "CONFIG GET maxmemory-policy answered nothing" };
    return { ok: policy === QUEUE_EVICTION_POLICY, policy } as EvictionPolicyCheck;
  } catch (error) {
    return { ok: "unknown", reason: error instanceof Error ? error.message : String(error) };
  } finally {
    probe.disconnect();
  }
}

/**
 * At start, every service: the queue Redis must run `maxmemory-policy noeviction`. Another policy
 * throws a DependencyError naming the setting to change; a server that does not let us read it
 * (CONFIG not permitted) is logged as a warning and the service goes on.
 */
export async function assertQueueRedisPolicy(
  url: string,
  warn: (message: string) => void,
  envVar = "REDIS_URL",
): Promise<void> {
  const check = await checkEvictionPolicy(url);
  if (check.ok === true) return;
  if (check.ok === "unknown") {
    warn(
      `cannot read maxmemory-policy of the queue Redis at ${redactUrl(url)} (${check.reason}): make sure it is ${QUEUE_EVICTION_POLICY}, or queued jobs may be evicted when it fills`,
    );
    return;
  }
  throw new DependencyError(
    `the queue Redis at ${redactUrl(url)} (${envVar}) has maxmemory-policy ${check.policy}: it would evict queued jobs, locks and schedules when full. Set maxmemory-policy ${QUEUE_EVICTION_POLICY} in its configuration (redis.conf, --maxmemory-policy ${QUEUE_EVICTION_POLICY}, or CONFIG SET maxmemory-policy ${QUEUE_EVICTION_POLICY}); give the read cache a Redis of its own with CACHE_REDIS_URL (allkeys-lru, a maxmemory cap)`,
  );
}
