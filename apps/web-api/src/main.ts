import { createServiceLogger, openStores } from "@finanzas/bootstrap";
import { createPool } from "@finanzas/db";
import { createRedis } from "@finanzas/queue";
import { runService } from "@finanzas/runtime";
import { buildApp } from "./app.js";
import { readConfig } from "./config.js";

const config = readConfig(process.env);
const logger = createServiceLogger("web-api", import.meta.url, config);

await runService(logger, async (shutdown) => {
  const stores = await openStores("web-api", config, shutdown, logger);
  // The read indexes are built on a connection of their own, free of the statement timeout that
  // bounds the API's reads: `create index concurrently` on a large table takes minutes.
  const indexPool = createPool({ url: config.DATABASE_URL, max: 1, applicationName: "web-api (indexes)" });
  shutdown.add("postgres (indexes)", () => indexPool.end());
  // The read cache in a Redis of its own when CACHE_REDIS_URL is set (LRU with a byte cap), so
  // cached reads never take the queue Redis's memory. Not checked at start: the cache is optional.
  const cacheRedis = config.CACHE_REDIS_URL ? createRedis(config.CACHE_REDIS_URL) : undefined;
  if (cacheRedis) shutdown.add("redis (cache)", async () => void (await cacheRedis.quit().catch(() => "")));
  const { app, drain } = await buildApp({
    logger,
    database: stores.database,
    redis: stores.redis,
    ...(cacheRedis ? { cacheRedis } : {}),
    checks: cacheRedis ? { ...stores.checks, cache: () => cacheRedis.ping() } : stores.checks,
    config,
    connection: stores.connection,
    indexPool,
  });
  // Fastify's close stops accepting connections and waits for in-flight requests.
  shutdown.add("http server", () => app.close(), config.SHUTDOWN_TIMEOUT_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
  shutdown.add("readiness", drain);
  logger.info({ port: config.PORT }, "ready");
});
