import type { Logger } from "@finanzas/logger";
import { unreachable } from "@finanzas/runtime";
import { Migrator } from "kysely";
import { createDb } from "./client.js";
import { migrations } from "./migrations/index.js";
import { withClient } from "./pool.js";
import { canActAs, DEFAULT_OWNER_ROLE } from "./roles.js";

/**
 * Creates the database named in `url` when it does not exist (connecting to the `postgres`
 * maintenance database to do so). Safe when several replicas race: losing the race is success.
 * Returns whether this call created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  try {
    await withClient(url, async () => {});
    return false;
  } catch (error) {
    if ((error as { code?: string }).code !== "3D000") {
      throw unreachable("PostgreSQL", url, "DATABASE_URL", error);
    }
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const maintenance = new URL(url);
  maintenance.pathname = "/postgres";
  return withClient(maintenance.toString(), async (client) => {
    try {
      await client.query(`create database ${client.escapeIdentifier(name)}`);
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      // 42P04 duplicate_database; 23505 when two CREATE DATABASE race on pg_database's index.
      if (code === "42P04" || code === "23505") return false;
      throw error;
    }
  });
}

export interface MigrateResult {
  createdDatabase: boolean;
  applied: string[];
  /** The role the migrations ran as: the schemas' owner when it exists (roles applied), else the user. */
  ranAs: string;
}

export interface MigrateOptions {
  /** The schemas' owner (applyRoles): migrations run as it when it exists and the user may act as it. */
  ownerRole?: string;
}

/**
 * Brings the database to the latest migration. Kysely's Migrator serialises concurrent runs with
 * a transaction-scoped advisory lock, so replicas may all call this at start; it holds no session
 * state and works through a transaction-mode pooler.
 */
export async function migrateToLatest(
  url: string,
  logger?: Logger,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const createdDatabase = await ensureDatabase(url);
  if (createdDatabase) logger?.info("created the database");
  // With the roles applied, everything a migration creates must belong to the owner (and get its
  // default privileges), whoever connects: run as the owner. Without them, as the user (one
  // DATABASE_URL for everything, as `pnpm start` runs).
  const owner = options.ownerRole ?? DEFAULT_OWNER_ROLE;
  const ranAs = (await withClient(url, (client) => canActAs(client, owner)))
    ? owner
    : new URL(url).username || "(default user)";
  const database = createDb({
    url,
    max: 1,
    applicationName: "finanzas-migrate",
    ...(ranAs === owner ? { role: owner } : {}),
  });
  try {
    const migrator = new Migrator({
      db: database.db,
      provider: { getMigrations: async () => migrations },
      // Branches merge migrations with earlier timestamps than ones already applied elsewhere;
      // each runs once all the same (they are independent by construction: append-only files).
      allowUnorderedMigrations: true,
    });
    const { error, results = [] } = await migrator.migrateToLatest();
    const applied = results.filter((r) => r.status === "Success").map((r) => r.migrationName);
    for (const name of applied) logger?.info({ migration: name }, "applied migration");
    const failed = results.find((r) => r.status === "Error");
    if (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`migration ${failed?.migrationName ?? "(setup)"} failed: ${reason}`, { cause: error });
    }
    return { createdDatabase, applied, ranAs };
  } finally {
    await database.close();
  }
}

/** Names of every migration this build knows, in order. */
export const migrationNames = (): string[] => Object.keys(migrations).sort();
