#!/usr/bin/env node
import { commonEnv, loadConfig, Type } from "@finanzas/config";
import { createLogger } from "@finanzas/logger";
import { DependencyError } from "@finanzas/runtime";
import { migrateToLatest } from "./migrate.js";

const config = loadConfig(
  "db:migrate",
  Type.Object({ DATABASE_URL: commonEnv.DATABASE_URL, LOG_LEVEL: commonEnv.LOG_LEVEL }),
  process.env,
);
const logger = createLogger({ service: "db-migrate", version: "0.1.0", level: config.LOG_LEVEL });

try {
  const { applied } = await migrateToLatest(config.DATABASE_URL, logger);
  logger.info(
    { applied: applied.length },
    applied.length ? "database migrated" : "database already up to date",
  );
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  logger.fatal(error instanceof DependencyError ? message : { err: error }, message);
  process.exitCode = 1;
}
