#!/usr/bin/env node
import { loadConfig } from "@finanzas/config";
import { createLogger } from "@finanzas/logger";
import { DependencyError } from "@finanzas/runtime";
import { ensureDatabase, migrateToLatest } from "./migrate.js";
import { applyRoles } from "./roles.js";
import { adminUrlOf, roleSpecOf, SetupConfigSchema, setupConfigProblems } from "./setup-env.js";

// `pnpm db:migrate`: creates the database if missing, applies the roles when DATABASE_ETL_URL and
// DATABASE_READER_URL are set (README, Database roles), then the pending migrations, as the owner
// when the roles are applied. Connects with DATABASE_ADMIN_URL, else DATABASE_URL.
const config = loadConfig("db:migrate", SetupConfigSchema, process.env, setupConfigProblems);
const logger = createLogger({ service: "db-migrate", version: "0.1.0", level: config.LOG_LEVEL });

try {
  const url = adminUrlOf(config);
  const roles = roleSpecOf(config);
  if (roles) {
    if (await ensureDatabase(url)) logger.info("created the database");
    const { created, reowned, trigram } = await applyRoles(url, roles);
    logger.info(
      {
        created,
        reowned: reowned.length,
        owner: roles.owner,
        etl: roles.etl.name,
        reader: roles.reader.name,
      },
      "database roles applied",
    );
    if (!trigram) logger.warn("the pg_trgm extension is not available: text search reads every row");
  }
  const { applied, ranAs } = await migrateToLatest(url, logger, { ownerRole: config.DATABASE_OWNER_ROLE });
  logger.info(
    { applied: applied.length, as: ranAs },
    applied.length ? "database migrated" : "database already up to date",
  );
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  logger.fatal(error instanceof DependencyError ? message : { err: error }, message);
  process.exitCode = 1;
}
