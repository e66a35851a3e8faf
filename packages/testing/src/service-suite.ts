import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { TEST_REDIS_URL } from "./env.js";
import { freePort, startProcess, waitForHttpOk } from "./process.js";
import { deleteQueueKeys, testQueuePrefix } from "./queue.js";

/** Milliseconds between the first log line with message `from` and the first at level `level`. */
function msBetween(output: string, from: string, level: string): number {
  const lines = output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg?: string; level?: string; time?: string });
  const start = lines.find((l) => l.msg === from)?.time;
  const end = lines.find((l) => l.level === level)?.time;
  if (!start || !end) throw new Error(`no "${from}" or ${level} line in:\n${output}`);
  return Date.parse(end) - Date.parse(start);
}

export interface ServiceSuiteOptions {
  /** Package name of the service, as it appears in its logs. */
  service: string;
  /** Absolute path of the built entry point (dist/main.js). */
  entry: string;
  /** The variable that sets the HTTP port of its health endpoints (PORT or HEALTH_PORT). */
  portVariable: "PORT" | "HEALTH_PORT";
  /** Extra environment the service needs to boot. */
  env?: Record<string, string>;
  /** Series that GET /metrics on the health port must show once ready (Prometheus text lines). */
  metrics?: RegExp[];
}

/**
 * The lifecycle every service must honour, run against the real built service process:
 * boots against real PostgreSQL and Redis and reports ready; exits 0 on SIGTERM within its
 * deadline; exits non-zero quickly with a clear message when Redis or PostgreSQL is unreachable
 * or the configuration is invalid.
 */
export function serviceLifecycleSuite(options: ServiceSuiteOptions): void {
  describe(`${options.service} lifecycle`, () => {
    let database: TestDatabase;
    const prefix = testQueuePrefix(options.service);

    beforeAll(async () => {
      if (!existsSync(options.entry)) {
        throw new Error(`${options.entry} is missing: build first (pnpm build, or run tests through turbo)`);
      }
      database = await createTestDatabase(options.service.replace(/-/g, "_"));
    });
    afterAll(async () => {
      await database?.drop();
      await deleteQueueKeys(prefix);
    });

    const baseEnv = () => ({
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      SHUTDOWN_TIMEOUT_MS: "3000",
      ...options.env,
    });

    it("boots against real PostgreSQL and Redis, reports ready, and exits 0 on SIGTERM", async () => {
      const port = await freePort();
      const proc = startProcess(options.entry, { ...baseEnv(), [options.portVariable]: String(port) });
      try {
        const ready = await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, proc, 45_000);
        expect(ready).toEqual({ ready: true, status: "ready", checks: { postgres: "ok", redis: "ok" } });
        const live = await fetch(`http://127.0.0.1:${port}/health/live`);
        expect(live.status).toBe(200);
        if (options.metrics) {
          const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
          expect(scrape.status).toBe(200);
          expect(scrape.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
          const text = await scrape.text();
          for (const series of options.metrics) expect(text).toMatch(series);
        }
        const { code, ms } = await proc.stop("SIGTERM");
        expect(code, proc.output()).toBe(0);
        expect(ms).toBeLessThan(3_000 + 5_000);
        expect(proc.output()).toContain(`"service":"${options.service}"`);
        expect(proc.output()).toContain("shutdown complete");
      } finally {
        await proc.stop("SIGKILL");
      }
    });

    const unreachable = [
      {
        store: "Redis",
        env: (port: number) => ({ REDIS_URL: `redis://127.0.0.1:${port}` }),
        message: (port: number) =>
          `cannot reach Redis at redis://127.0.0.1:${port} (ECONNREFUSED): start Redis or set REDIS_URL`,
      },
      {
        store: "PostgreSQL",
        env: (port: number) => ({ DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/finanzas` }),
        message: (port: number) =>
          `cannot reach PostgreSQL at postgres://postgres:***@127.0.0.1:${port}/finanzas (ECONNREFUSED): start PostgreSQL or set DATABASE_URL`,
      },
    ];
    for (const store of unreachable) {
      it(`exits non-zero quickly with the URL and the fix when ${store.store} is unreachable`, async () => {
        const port = await freePort();
        const closed = await freePort();
        const started = Date.now();
        const proc = startProcess(options.entry, {
          ...baseEnv(),
          [options.portVariable]: String(port),
          ...store.env(closed),
        });
        const { code } = await proc.exited;
        expect(code).not.toBe(0);
        expect(proc.output()).toContain(store.message(closed));
        // Quickly = no retry loop: from "starting" to the fatal line well under the connect
        // timeout, whatever the machine's load did to Node's own boot before it.
        expect(msBetween(proc.output(), "starting", "fatal")).toBeLessThan(3_000);
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(proc.output()).not.toContain("secret");
      });
    }

    it("exits 1 listing every invalid variable together", async () => {
      const proc = startProcess(options.entry, {
        ...baseEnv(),
        [options.portVariable]: "not-a-port",
        REDIS_URL: "localhost:6379",
        SHUTDOWN_TIMEOUT_MS: "-5",
      });
      const { code } = await proc.exited;
      expect(code).toBe(1);
      const output = proc.output();
      expect(output).toContain(`${options.service}: invalid configuration (3 problems)`);
      expect(output).toContain(`${options.portVariable}: expected a TCP port (1-65535), got "not-a-port"`);
      expect(output).toContain("REDIS_URL: expected a URL starting with redis:// or rediss://");
      expect(output).toContain('SHUTDOWN_TIMEOUT_MS: expected an integer >= 0 <= 3600000, got "-5"');
    });
  });
}
