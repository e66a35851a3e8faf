#!/usr/bin/env node
import { loadConfig } from "@finanzas/config";
import { createLogger } from "@finanzas/logger";
import { ensureDatabase } from "./migrate.js";
import { applyRoles, grantStatements } from "./roles.js";
import { adminUrlOf, roleSpecOf, SetupConfigSchema, setupConfigProblems } from "./setup-env.js";

// `pnpm db:roles [--print]`: creates or updates the owner, ETL and reader roles (README, Database
// roles) from DATABASE_ETL_URL and DATABASE_READER_URL, connected with DATABASE_ADMIN_URL (else
// DATABASE_URL). `--print` shows the grants it applies and changes nothing. `pnpm db:migrate` does
// the same first, so this is for changing a password or checking the grants without a migration.
const config = loadConfig("db:roles", SetupConfigSchema, process.env, setupConfigProblems);
const logger = createLogger({ service: "db-roles", version: "0.1.0", level: config.LOG_LEVEL });

try {
  const roles = roleSpecOf(config);
  if (!roles) {
    throw new Error(
      "set DATABASE_ETL_URL and DATABASE_READER_URL (each with its role's user and password) to apply the roles",
    );
  }
  const url = adminUrlOf(config);
  if (process.argv.includes("--print")) {
    const database = decodeURIComponent(new URL(url).pathname.slice(1));
    process.stdout.write(`${grantStatements(roles, database).join(";\n")};\n`);
  } else {
    if (await ensureDatabase(url)) logger.info("created the database");
    const { created, reowned, trigram } = await applyRoles(url, roles);
    logger.info({ created, reowned }, "database roles applied");
    if (!trigram) logger.warn("the pg_trgm extension is not available: text search reads every row");
  }
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  logger.fatal(message);
  process.exitCode = 1;
}
