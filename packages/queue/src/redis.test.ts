import { randomBytes } from "node:crypto";
import { type RedisInstance, startRedis } from "@finanzas/testing";
import { afterAll, describe, expect, it } from "vitest";
import { assertQueueRedisPolicy, createRedis, isRedisUnavailable } from "./redis.js";

const servers: RedisInstance[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
const redisWith = async (config: Record<string, string> = {}) => {
  const server = await startRedis({ config });
  servers.push(server);
  return server;
};

describe("the queue Redis's eviction policy, checked at start", () => {
  it("accepts noeviction, refuses allkeys-lru naming the setting, and only warns when CONFIG is not allowed", async () => {
    const [good, lru, locked] = await Promise.all([
      redisWith(),
      redisWith({ "maxmemory-policy": "allkeys-lru" }),
      redisWith(),
    ]);
    // As on a managed Redis: a user that may not run CONFIG.
    // (A password made at run time: one written here would be a secret published in the repository.)
    const password = randomBytes(12).toString("hex");
    const admin = createRedis(locked.url);
    await admin.call("ACL", "SETUSER", "app", "on", `>${password}`, "~*", "&*", "+@all", "-config");
    admin.disconnect();
    const limitedUrl = locked.url.replace("redis://", `redis://app:${password}@`);
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    await expect(assertQueueRedisPolicy(good.url, warn)).resolves.toBeUndefined();
    expect(warnings).toEqual([]);

    const refused = assertQueueRedisPolicy(lru.url, warn);
    await expect(refused).rejects.toThrow(/has maxmemory-policy allkeys-lru/);
    await expect(refused).rejects.toThrow(/Set maxmemory-policy noeviction/);
    await expect(refused).rejects.toThrow(/CACHE_REDIS_URL/);

    await expect(assertQueueRedisPolicy(limitedUrl, warn)).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /cannot read maxmemory-policy of the queue Redis at redis:\/\/app:\*+@127\.0\.0\.1:\d+ \(NOPERM/,
    );
  }, 30_000);
});

describe("a client on a request path", () => {
  it("fails a command within its timeout on a frozen Redis, as an unavailable Redis", async () => {
    const server = await redisWith();
    const client = createRedis(server.url);
    try {
      expect(await client.ping()).toBe("PONG");
      server.freeze();
      const started = Date.now();
      const error = await client.get("anything").catch((e: unknown) => e);
      const ms = Date.now() - started;
      server.thaw();
      expect(isRedisUnavailable(error)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(1_900);
      expect(ms).toBeLessThan(4_000);
      expect(await client.ping()).toBe("PONG");
    } finally {
      server.thaw();
      client.disconnect();
    }
  }, 30_000);
});
