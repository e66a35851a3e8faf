import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { TEST_REDIS_URL } from "./env.js";

/** A BullMQ key prefix no other suite uses. */
export const testQueuePrefix = (label = "test"): string => `t-${label}-${randomBytes(4).toString("hex")}`;

/** Deletes every key under a prefix, so a suite leaves nothing behind in Redis. */
export async function deleteQueueKeys(prefix: string, redisUrl = TEST_REDIS_URL): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}
