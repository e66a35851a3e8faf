import { describe, expect, it } from "vitest";
import { ConfigError, commonEnv, env, parseEnv, Type } from "./index.js";

const schema = Type.Object({
  ...commonEnv,
  PORT: env.port(3000),
  ETL_CONCURRENCY: env.int({ minimum: 1, maximum: 64, default: 2 }),
  JWT_SECRET: env.secret({ minLength: 32 }),
  DEBUG_SQL: env.bool({ default: false }),
});

describe("parseEnv", () => {
  it("applies defaults and converts numbers and booleans", () => {
    const config = parseEnv("svc", schema, { JWT_SECRET: "x".repeat(32), PORT: "8080", DEBUG_SQL: "true" });
    expect(config.PORT).toBe(8080);
    expect(config.DEBUG_SQL).toBe(true);
    expect(config.ETL_CONCURRENCY).toBe(2);
    expect(config.DATABASE_URL).toBe("postgres://postgres@127.0.0.1:5432/finanzas");
    expect(config.REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(config.LOG_LEVEL).toBe("info");
  });

  it("reports every missing or invalid variable together, hiding secret values", () => {
    let caught: unknown;
    try {
      parseEnv("etl-worker", schema, {
        PORT: "http",
        ETL_CONCURRENCY: "0",
        REDIS_URL: "localhost:6379",
        LOG_LEVEL: "loud",
        JWT_SECRET: "short-secret-value",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems).toHaveLength(5);
    expect(error.message).toContain('PORT: expected a TCP port (1-65535), got "http"');
    expect(error.message).toContain('ETL_CONCURRENCY: expected an integer >= 1 <= 64, got "0"');
    expect(error.message).toContain("REDIS_URL: expected a URL starting with redis:// or rediss://");
    expect(error.message).toContain(
      "LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent",
    );
    expect(error.message).toContain("JWT_SECRET");
    expect(error.message).not.toContain("short-secret-value");
    expect(error.message).toMatch(/^etl-worker: invalid configuration \(5 problems\)/);
  });

  it("treats an empty string as unset and names a required variable", () => {
    expect(() => parseEnv("svc", schema, { JWT_SECRET: "" })).toThrow(/JWT_SECRET is required/);
  });
});
