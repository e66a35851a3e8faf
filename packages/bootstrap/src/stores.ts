import { readFileSync } from "node:fs";
import { assertDatabaseReachable, createDb, type Db } from "@finanzas/db";
import { createLogger, type Logger } from "@finanzas/logger";
import {
  assertQueueRedisPolicy,
  assertRedisReachable,
  createRedis,
  type QueueConnection,
} from "@finanzas/queue";
import type { Shutdown } from "@finanzas/runtime";
import type { Redis } from "ioredis";

/** The configuration every service reads to reach its stores (see commonEnv in @finanzas/config). */
export interface StoreConfig {
  DATABASE_URL: string;
  DATABASE_POOL_MAX: number;
  DATABASE_STATEMENT_TIMEOUT_MS: number;
  REDIS_URL: string;
  QUEUE_PREFIX: string;
}

export interface Stores {
  database: Db;
  redis: Redis;
  connection: QueueConnection;
  /** Readiness checks: PostgreSQL and Redis answer. */
  checks: { postgres: () => Promise<unknown>; redis: () => Promise<unknown> };
}

/**
 * Opens PostgreSQL and Redis for a service and registers their closing. Both are checked before
 * anything else starts; an unreachable one throws a DependencyError that names its URL and the fix.
 * The queue Redis must run `maxmemory-policy noeviction` (a start with another policy is refused,
 * naming the setting; a Redis that does not let us read it gets a warning).
 * Later losses of PostgreSQL connections (a terminated backend, a restarted server) are logged as
 * warnings and never end the process: the statement in flight fails, the next one reconnects.
 */
export async function openStores(
  service: string,
  config: StoreConfig,
  shutdown: Shutdown,
  logger?: Logger,
): Promise<Stores> {
  await Promise.all([
    assertRedisReachable(config.REDIS_URL).then(() =>
      assertQueueRedisPolicy(config.REDIS_URL, (message) => logger?.warn(message)),
    ),
    (async () => {
      const probe = createDb({
        url: config.DATABASE_URL,
        max: 1,
        connectionTimeoutMillis: 3_000,
        statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      });
      try {
        await assertDatabaseReachable(probe, config.DATABASE_URL);
      } finally {
        await probe.close();
      }
    })(),
  ]);
  const database = createDb({
    url: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    applicationName: service,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    onConnectionError: (error) =>
      logger?.warn(
        { err: error },
        "lost a PostgreSQL connection: its statement fails, the next one reconnects",
      ),
  });
  shutdown.add("postgres", () => database.close());
  const redis = createRedis(config.REDIS_URL);
  shutdown.add("redis", async () => {
    await redis.quit();
  });
  return {
    database,
    redis,
    connection: { redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX },
    checks: { postgres: () => database.ping(), redis: () => redis.ping() },
  };
}

/** The service's logger: name and version bound, level and format from its configuration. */
export function createServiceLogger(
  service: string,
  mainUrl: string,
  config: { LOG_LEVEL: string; LOG_FORMAT: "auto" | "json" | "pretty" },
): Logger {
  return createLogger({
    service,
    version: packageVersion(mainUrl),
    level: config.LOG_LEVEL,
    ...(config.LOG_FORMAT === "auto" ? {} : { pretty: config.LOG_FORMAT === "pretty" }),
  });
}

/** The `version` of the package.json next to the built entry point (`import.meta.url` of main). */
export function packageVersion(mainUrl: string): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", mainUrl), "utf8")) as { version: string })
      .version;
  } catch {
    return "0.0.0";
  }
}
