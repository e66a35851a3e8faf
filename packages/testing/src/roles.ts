import { randomBytes } from "node:crypto";
import { applyRoles, type RoleSpec } from "@finanzas/db";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { TEST_ADMIN_DATABASE_URL } from "./env.js";

/** A test database with the database roles applied (packages/db/src/roles.ts). */
export interface RoleDatabase extends TestDatabase {
  roles: RoleSpec;
  /** The etl-worker's connection (its role's user). */
  etlUrl: string;
  /** The connection of web-api, scheduler, report-worker and mailer (the reader role's user). */
  readerUrl: string;
}

/** Drops test roles (server-wide, so every suite names its own and drops them). */
export async function dropTestRoles(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const client = new pg.Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  await client.connect();
  try {
    for (const name of names) await client.query(`drop role if exists "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/**
 * A fresh migrated database whose schemas and tables belong to roles of this suite's own (the owner,
 * the ETL's, the reader's, as `pnpm db:migrate` makes them): connect with `etlUrl` or `readerUrl` to
 * run a service's code as its role. drop() drops the database and the roles.
 */
export async function createRoleDatabase(label = "roles"): Promise<RoleDatabase> {
  const database = await createTestDatabase(label);
  const tag = randomBytes(4).toString("hex");
  const roles: RoleSpec = {
    owner: `test_owner_${tag}`,
    etl: { name: `test_etl_${tag}`, password: randomBytes(12).toString("hex") },
    reader: { name: `test_reader_${tag}`, password: randomBytes(12).toString("hex") },
  };
  const urlAs = (role: { name: string; password: string }) => {
    const url = new URL(database.url);
    url.username = role.name;
    url.password = role.password;
    return url.toString();
  };
  try {
    await applyRoles(database.url, roles);
  } catch (error) {
    await database.drop();
    await dropTestRoles([roles.owner, roles.etl.name, roles.reader.name]);
    throw error;
  }
  return {
    ...database,
    roles,
    etlUrl: urlAs(roles.etl),
    readerUrl: urlAs(roles.reader),
    drop: async () => {
      await database.drop();
      await dropTestRoles([roles.owner, roles.etl.name, roles.reader.name]);
    },
  };
}
