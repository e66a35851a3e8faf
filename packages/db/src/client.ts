import { unreachable } from "@finanzas/runtime";
import { Kysely, PostgresDialect } from "kysely";
import type pg from "pg";
import type { Database } from "./database.js";
import { createPool, type PoolOptions } from "./pool.js";

export interface Db {
  db: Kysely<Database>;
  pool: pg.Pool;
  /** Resolves when PostgreSQL answers `select 1`; used by readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function createDb(options: PoolOptions): Db {
  const pool = createPool(options);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    ping: async () => {
      await pool.query("select 1");
    },
    close: () => db.destroy(),
  };
}

/**
 * Fails fast at start-up with a message that says what to do: PostgreSQL unreachable, or the
 * database missing (run the migrations, which create it).
 */
export async function assertDatabaseReachable(database: Db, url: string): Promise<void> {
  try {
    await database.ping();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "3D000") {
      throw unreachable(
        "PostgreSQL",
        url,
        "DATABASE_URL",
        error,
        "the database does not exist: run `pnpm db:migrate`",
      );
    }
    if (/unsupported startup parameter/i.test((error as Error).message ?? "")) {
      throw unreachable(
        "PostgreSQL",
        url,
        "DATABASE_URL",
        error,
        "a pooler in front of PostgreSQL (PgBouncer) refuses the session timeouts sent at connection: set DATABASE_STATEMENT_TIMEOUT_MS=0 and give the role its timeouts (alter role … set statement_timeout = '30s')",
      );
    }
    if (code === "28P01" || code === "28000") {
      throw unreachable(
        "PostgreSQL",
        url,
        "DATABASE_URL",
        error,
        "check the user and password in DATABASE_URL",
      );
    }
    throw unreachable("PostgreSQL", url, "DATABASE_URL", error);
  }
}
