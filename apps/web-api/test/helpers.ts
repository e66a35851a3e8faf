import { randomUUID } from "node:crypto";
import { parseEnv } from "@finanzas/config";
import type { Role } from "@finanzas/contracts";
import { createDb, type Db } from "@finanzas/db";
import type { Logger } from "@finanzas/logger";
import { createRedis } from "@finanzas/queue";
import type { Storage } from "@finanzas/storage";
import {
  createTestDatabase,
  deleteQueueKeys,
  TEST_REDIS_URL,
  type TestDatabase,
  testLogger,
  testQueuePrefix,
} from "@finanzas/testing";
import type { Redis } from "ioredis";
import { type App, buildApp } from "../src/app.js";
import { ConfigSchema, checkConfig } from "../src/config.js";

export const logger: Logger = testLogger("web-api");

export const PASSWORD = "correct horse battery staple";
export const ADMIN_EMAIL = "admin@example.com";

export interface TestApp {
  built: App;
  app: App["app"];
  database: Db;
  testDb: TestDatabase;
  redis: Redis;
  prefix: string;
  /** Access tokens per role (admin from ADMIN_EMAIL; finance and viewer created by the admin). */
  tokens: { admin: string; finance: string; viewer: string };
  clock: { now: number };
  close(): Promise<void>;
}

export const testConfig = (env: Record<string, string> = {}) =>
  checkConfig(
    parseEnv("web-api", ConfigSchema, {
      NODE_ENV: "test",
      JWT_SECRET: "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
      ADMIN_EMAIL,
      ADMIN_PASSWORD: PASSWORD,
      LOGIN_RATE_LIMIT_MAX: "1000",
      RATE_LIMIT_MAX: "100000",
      MAIL_MAX_ACTIVE_PER_USER: "1000",
      ...env,
    }),
  );

/** The app over a fresh migrated database and its own Redis prefix, with one logged-in user per role. */
export async function startTestApp(
  label: string,
  options: {
    env?: Record<string, string>;
    testDb?: TestDatabase;
    prefix?: string;
    /** The global rate limit's Redis sync period; 0: only when the test calls built.rateLimit.sync(). */
    rateLimitSyncMs?: number;
    /** Instead of the suite's (silent unless TEST_LOG_LEVEL) logger. */
    logger?: Logger;
    /** Where report files are read (default: REPORTS_DIR of the test configuration). */
    storage?: Storage;
    /** A Redis of the test's own (startRedis) instead of the shared one: tests that stop it. */
    redisUrl?: string;
  } = {},
): Promise<TestApp> {
  const testDb = options.testDb ?? (await createTestDatabase(`web_api_${label}`));
  const database = createDb({ url: testDb.url, max: 8 });
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const redis = createRedis(redisUrl);
  const prefix = options.prefix ?? testQueuePrefix(`api-${label}`);
  const clock = { now: Date.now() };
  let frozen = false;
  const built = await buildApp({
    logger: options.logger ?? logger,
    database,
    redis,
    checks: { postgres: () => database.ping(), redis: () => redis.ping() },
    config: testConfig(options.env),
    connection: { redisUrl, prefix },
    now: () => (frozen ? clock.now : Date.now()),
    ...(options.rateLimitSyncMs === undefined ? {} : { rateLimitSyncMs: options.rateLimitSyncMs }),
    ...(options.storage ? { storage: options.storage } : {}),
  });
  const app = built.app;
  const login = async (email: string) => {
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email, password: PASSWORD },
    });
    if (res.statusCode !== 200) throw new Error(`login ${email}: ${res.statusCode} ${res.body}`);
    return res.json().accessToken as string;
  };
  const admin = await login(ADMIN_EMAIL);
  for (const role of ["finance", "viewer"]) {
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/users",
      headers: { authorization: `Bearer ${admin}` },
      payload: { email: `${role}@example.com`, password: PASSWORD, role },
    });
    if (res.statusCode !== 201 && res.statusCode !== 409) throw new Error(`create ${role}: ${res.body}`);
  }
  const tokens = {
    admin,
    finance: await login("finance@example.com"),
    viewer: await login("viewer@example.com"),
  };
  return {
    built,
    app,
    database,
    testDb,
    redis,
    prefix,
    tokens,
    clock: new Proxy(clock, {
      set(target, key, value) {
        frozen = true;
        (target as Record<string | symbol, unknown>)[key] = value;
        return true;
      },
    }),
    async close() {
      await app.close();
      await database.close();
      redis.disconnect();
      if (!options.testDb) await testDb.drop();
      if (!options.redisUrl) await deleteQueueKeys(prefix);
    },
  };
}

export const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** A user of `role` created by the admin through the API (email `<label>-<role>-<random>@example.com`). */
export async function createUser(
  t: TestApp,
  role: Role,
  label: string,
): Promise<{ id: string; email: string }> {
  const email = `${label}-${role}-${randomUUID().slice(0, 8)}@example.com`;
  const res = await t.app.inject({
    method: "POST",
    url: "/api/v1/users",
    headers: auth(t.tokens.admin),
    payload: { email, password: PASSWORD, role },
  });
  if (res.statusCode !== 201) throw new Error(`create ${email}: ${res.statusCode} ${res.body}`);
  return { id: res.json().id as string, email };
}
