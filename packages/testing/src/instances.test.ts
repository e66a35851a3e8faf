import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresInstance, type RedisInstance, startPostgres, startRedis } from "./instances.js";

describe("a PostgreSQL of the test's own", () => {
  let server: PostgresInstance;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("migrates a database, survives kill and restart on the same port, keeps committed rows", async () => {
    const url = await server.createDatabase("faults");
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const errors: Error[] = [];
    pool.on("error", (e) => errors.push(e));
    await pool.query("create table t (id int primary key)");
    await pool.query("insert into t values (1)");
    await server.kill();
    await expect(pool.query("select 1")).rejects.toThrow();
    await server.start();
    const { rows } = await pool.query("select count(*)::int as n from t");
    expect(rows[0].n).toBe(1);
    const held = await pool.connect();
    held.on("error", (e) => errors.push(e));
    expect(await server.terminateBackends()).toBeGreaterThanOrEqual(1);
    // A held, idle client learns of the termination as an 'error' event (57P01), before any query.
    await expect.poll(() => errors.map((e) => (e as { code?: string }).code)).toContain("57P01");
    await expect(held.query("select 1")).rejects.toThrow(/not queryable|terminat/);
    held.release(true);
    await server.restart("immediate");
    expect((await pool.query("select 2 as v")).rows[0].v).toBe(2);
    await pool.end();
  }, 60_000);
});

describe("a Redis of the test's own", () => {
  let server: RedisInstance;
  beforeAll(async () => {
    server = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  it("forgets its keys on restart without persistence, and a frozen server does not answer", async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, commandTimeout: 500 });
    client.on("error", () => {});
    await client.set("k", "v");
    await server.restart();
    expect(await client.get("k")).toBeNull();
    server.freeze();
    await expect(client.ping()).rejects.toThrow(/timed out/i);
    server.thaw();
    await new Promise((r) => setTimeout(r, 100));
    expect(await client.ping()).toBe("PONG");
    client.disconnect();
  }, 30_000);
});
