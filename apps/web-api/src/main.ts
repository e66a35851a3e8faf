import { createServiceLogger, openStores } from "@finanzas/bootstrap";
import { runService } from "@finanzas/runtime";
import { buildApp } from "./app.js";
import { readConfig } from "./config.js";

const config = readConfig(process.env);
const logger = createServiceLogger("web-api", import.meta.url, config);

await runService(logger, async (shutdown) => {
  const stores = await openStores("web-api", config, shutdown);
  const { app, drain } = await buildApp({
    logger,
    database: stores.database,
    redis: stores.redis,
    checks: stores.checks,
    config,
    connection: stores.connection,
  });
  // Fastify's close stops accepting connections and waits for in-flight requests.
  shutdown.add("http server", () => app.close(), config.SHUTDOWN_TIMEOUT_MS);
  await app.listen({ port: config.PORT, host: config.HOST });
  shutdown.add("readiness", drain);
  logger.info({ port: config.PORT }, "ready");
});
