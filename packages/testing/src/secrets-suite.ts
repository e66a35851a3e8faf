import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { DEMO_SECRETS, type TObject } from "@finanzas/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { TEST_REDIS_URL } from "./env.js";
import { freePort, startProcess, waitForHttpOk } from "./process.js";
import { deleteQueueKeys, testQueuePrefix } from "./queue.js";

export interface SecretsSuiteOptions {
  /** Package name of the service. */
  service: string;
  /** Absolute path of the built entry point (dist/main.js). */
  entry: string;
  /** The variable that sets the HTTP port of its health endpoints (PORT or HEALTH_PORT). */
  portVariable: "PORT" | "HEALTH_PORT";
  /** The service's ConfigSchema: which of the demo's secrets it reads. */
  schema: TObject;
  /** What else it needs to boot in production (an Odoo address, a sender, the admin's email). */
  env?: Record<string, string>;
}

/** `url` with `password` as its password (URL-encoded). */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/**
 * The built service with NODE_ENV=production against the secrets of docker/demo.env
 * (DEMO_SECRETS), one at a time and all together: it exits 1 before it opens anything, naming the
 * variable and never printing the value. The same service boots with strong values of this run's
 * own, and with the demo's values when ALLOW_DEMO_SECRETS=true says so (then warning about it).
 * The PostgreSQL of the tests trusts local connections, so a password in DATABASE_URL, demo or
 * strong, reaches it all the same.
 */
export function productionSecretsSuite(options: SecretsSuiteOptions): void {
  describe(`${options.service} in production: the repository's secrets`, () => {
    let database: TestDatabase;
    const prefix = testQueuePrefix(`${options.service}-secrets`);
    const names = Object.keys(DEMO_SECRETS).filter((name) => name in options.schema.properties);

    beforeAll(async () => {
      if (!existsSync(options.entry)) {
        throw new Error(`${options.entry} is missing: build first (pnpm build, or run tests through turbo)`);
      }
      database = await createTestDatabase(`${options.service.replace(/-/g, "_")}_secrets`);
    });
    afterAll(async () => {
      await database?.drop();
      await deleteQueueKeys(prefix);
    });

    /** The variable's value in docker/demo.env (DATABASE_URL: the test database with the demo's password). */
    const demo = (name: string) =>
      name === "DATABASE_URL" ? withPassword(database.url, DEMO_SECRETS[name]!) : DEMO_SECRETS[name]!;
    /** A value nobody has seen before. */
    const strong = (name: string) =>
      name === "DATABASE_URL"
        ? withPassword(database.url, randomBytes(24).toString("hex"))
        : randomBytes(48).toString("base64");

    const baseEnv = async (secrets: (name: string) => string) => ({
      NODE_ENV: "production",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      SHUTDOWN_TIMEOUT_MS: "3000",
      [options.portVariable]: String(await freePort()),
      ...(options.portVariable === "PORT" ? { HOST: "127.0.0.1" } : {}),
      ...options.env,
      ...Object.fromEntries(names.map((name) => [name, secrets(name)])),
    });

    /** Starts the service and expects it to refuse: exit 1, each of `refused` named, no demo value shown. */
    const expectRefused = async (env: Record<string, string>, refused: string[]) => {
      const proc = startProcess(options.entry, env);
      try {
        const { code } = await proc.exited;
        const output = proc.output();
        expect(code, output).toBe(1);
        expect(output).toMatch(new RegExp(`^${options.service}: invalid configuration`, "m"));
        for (const name of refused)
          expect(output).toMatch(new RegExp(`^ {2}- (the password in )?${name} `, "m"));
        for (const name of names) {
          const value = DEMO_SECRETS[name]!;
          // (a value of a few letters, like the simulator's "admin", may be a word of any message)
          if (value.length >= 6) expect(output).not.toContain(value);
          expect(output).not.toContain(env[name]!);
        }
        // refused before anything was opened: not one log line
        expect(output).not.toContain('"msg":"starting"');
      } finally {
        await proc.stop("SIGKILL");
      }
    };

    it("reads DATABASE_URL, whose demo password is among the demo's secrets", () => {
      expect(names).toContain("DATABASE_URL");
    });

    it("exits 1 on each demo secret alone, naming it and showing no value", async () => {
      for (const name of names) {
        const env = await baseEnv((n) => (n === name ? demo(n) : strong(n)));
        await expectRefused(env, [name]);
      }
    }, 120_000);

    it("exits 1 on the demo's secrets without ALLOW_DEMO_SECRETS, naming every one", async () => {
      await expectRefused(await baseEnv(demo), names);
    }, 60_000);

    const boots = async (env: Record<string, string>) => {
      const proc = startProcess(options.entry, env);
      try {
        const port = env[options.portVariable]!;
        const ready = await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, proc, 45_000);
        expect(ready).toMatchObject({ ready: true });
        const { code } = await proc.stop("SIGTERM");
        expect(code, proc.output()).toBe(0);
        return proc.output();
      } finally {
        await proc.stop("SIGKILL");
      }
    };

    it("boots with strong values of its own", async () => {
      const output = await boots(await baseEnv(strong));
      expect(output).not.toContain("ALLOW_DEMO_SECRETS");
    }, 90_000);

    it("boots on the demo's secrets with ALLOW_DEMO_SECRETS=true, warning which ones at start", async () => {
      const output = await boots({ ...(await baseEnv(demo)), ALLOW_DEMO_SECRETS: "true" });
      const warning = output.split("\n").find((line) => line.includes("WARNING: ALLOW_DEMO_SECRETS=true"));
      expect(warning, output).toBeDefined();
      for (const name of names) expect(warning).toContain(name);
    }, 90_000);
  });
}
