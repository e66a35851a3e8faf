import { createHash, randomBytes } from "node:crypto";
import { migrateToLatest, migrationNames } from "@finanzas/db";
import pg from "pg";
import { TEST_ADMIN_DATABASE_URL } from "./env.js";

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

const TEMPLATE_PREFIX = "finanzas_tpl_";

function urlFor(name: string): string {
  const url = new URL(TEST_ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The migrated template, named after the hash of the migration list so a new migration gets a
 * new template. Built once per machine under an advisory lock (parallel suites wait for it);
 * stale templates are dropped. `use` runs under the same lock, so a suite of another checkout
 * (another migration list) cannot drop the template between its check and its use.
 */
async function withTemplate(client: pg.Client, use: (template: string) => Promise<void>): Promise<void> {
  const hash = createHash("sha256").update(migrationNames().join("\n")).digest("hex").slice(0, 12);
  const template = `${TEMPLATE_PREFIX}${hash}`;
  await client.query("select pg_advisory_lock(hashtext('finanzas_test_template'))");
  try {
    const { rows } = await client.query<{ datname: string }>(
      "select datname from pg_database where datname like $1",
      [`${TEMPLATE_PREFIX}%`],
    );
    for (const { datname } of rows) {
      if (datname !== template) await client.query(`drop database if exists "${datname}" with (force)`);
    }
    if (!rows.some((r) => r.datname === template)) {
      const building = `${template}_building`;
      await client.query(`drop database if exists "${building}" with (force)`);
      await client.query(`create database "${building}"`);
      await migrateToLatest(urlFor(building));
      await client.query(`alter database "${building}" rename to "${template}"`);
    }
    await use(template);
  } finally {
    await client.query("select pg_advisory_unlock(hashtext('finanzas_test_template'))");
  }
}

/** A fresh, fully migrated database for one test suite. Call drop() in afterAll. */
export async function createTestDatabase(label = "test"): Promise<TestDatabase> {
  const name = `finanzas_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  await withAdmin(async (client) => {
    await withTemplate(client, async (template) => {
      await client.query(`create database "${name}" template "${template}"`);
    });
  });
  return {
    name,
    url: urlFor(name),
    drop: () =>
      withAdmin(async (client) => {
        await client.query(`drop database if exists "${name}" with (force)`);
      }),
  };
}
