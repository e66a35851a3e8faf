import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "./index.js";

describe("createTestDatabase", () => {
  it("gives each suite its own migrated database and drops it afterwards", async () => {
    const [a, b] = await Promise.all([createTestDatabase("fixture"), createTestDatabase("fixture")]);
    expect(a.name).not.toBe(b.name);
    for (const database of [a, b]) {
      const client = new pg.Client(database.url);
      await client.connect();
      const { rows } = await client.query("select count(*)::int as n from kysely_migration");
      await client.end();
      expect(rows[0].n).toBeGreaterThan(0);
    }
    await Promise.all([a.drop(), b.drop()]);
    const admin = new pg.Client(a.url.replace(a.name, "postgres"));
    await admin.connect();
    const { rows } = await admin.query("select datname from pg_database where datname = any($1)", [
      [a.name, b.name],
    ]);
    await admin.end();
    expect(rows).toEqual([]);
  });
});
