import { unreachable } from "@finanzas/runtime";
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
 * Connection options by role, as BullMQ requires:
 * - worker: blocking commands must wait out reconnects (maxRetriesPerRequest null), and keep
 *   retrying the connection forever;
 * - producer: fail fast (no offline queue), so an HTTP request that enqueues gets an error instead of
 *   hanging while Redis is down.
 */
export function redisOptions(url: string, role: "worker" | "producer" | "client"): RedisOptions {
  const base = { ...redisOptionsFromUrl(url), connectTimeout: 5_000, lazyConnect: false };
  if (role === "worker") return { ...base, maxRetriesPerRequest: null, enableReadyCheck: false };
  if (role === "producer") return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
  return { ...base, maxRetriesPerRequest: 2 };
}

/** A general-purpose client (cache, pub/sub, readiness pings). */
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
