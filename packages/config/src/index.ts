import { type Static, type TObject, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { demoSecretsWarning } from "./secrets.js";

/** Thrown when one or more environment variables are missing or invalid; lists every one of them. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${service}: invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        "\nSet these environment variables (see the configuration table in README.md) and start again.",
    );
    this.name = "ConfigError";
  }
}

type Opts = { description?: string; default?: unknown };

/** Schema builders for environment variables. `description` is what an error says was expected. */
export const env = {
  string: (o: Opts & { minLength?: number } = {}) => Type.String({ minLength: 1, ...o }),
  /**
   * A value that must never be echoed back in an error message or a log. In production it must not
   * equal or derive from a value published in the repository, and with `minBits` its estimated
   * entropy must reach that many bits (productionSecretProblems).
   */
  secret: (o: Opts & { minLength?: number; minBits?: number } = {}) =>
    Type.String({ minLength: 1, ...o, secret: true }),
  url: (protocols: readonly string[], o: Opts = {}) =>
    Type.String({
      pattern: `^(${protocols.join("|")})://`,
      description: `a URL starting with ${protocols.map((p) => `${p}://`).join(" or ")}`,
      ...o,
    }),
  int: (o: Opts & { minimum?: number; maximum?: number } = {}) =>
    Type.Integer({
      description: `an integer${o.minimum !== undefined ? ` >= ${o.minimum}` : ""}${o.maximum !== undefined ? ` <= ${o.maximum}` : ""}`,
      ...o,
    }),
  port: (defaultPort: number) =>
    Type.Integer({ minimum: 1, maximum: 65535, default: defaultPort, description: "a TCP port (1-65535)" }),
  bool: (o: Opts = {}) => Type.Boolean({ description: "true or false", ...o }),
  oneOf: <const T extends readonly string[]>(values: T, o: Opts = {}) =>
    Type.Union(
      values.map((v) => Type.Literal(v)),
      { description: `one of ${values.join(", ")}`, ...o },
    ) as unknown as TSchema & { static: T[number] },
  optional: <S extends TSchema>(schema: S) => Type.Optional(schema),
};

const describe = (schema: TSchema, fallback: string): string =>
  typeof schema.description === "string" ? schema.description : fallback;

/**
 * Parses the variables named by `schema` out of `source`. Empty strings count as unset. Defaults
 * apply, strings are converted to numbers and booleans, and every problem is collected before
 * throwing one ConfigError.
 */
export function parseEnv<T extends TObject>(
  service: string,
  schema: T,
  source: Record<string, string | undefined>,
): Static<T> {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = source[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  const value = Value.Convert(schema, Value.Default(schema, { ...raw })) as Record<string, unknown>;
  const problems = new Map<string, string>();
  for (const error of Value.Errors(schema, value)) {
    const key = error.path.split("/")[1] ?? "";
    if (problems.has(key)) continue;
    const property = schema.properties[key] as TSchema | undefined;
    if (!property) continue;
    const given = raw[key];
    if (given === undefined) {
      problems.set(key, `${key} is required: expected ${describe(property, error.message.toLowerCase())}`);
    } else {
      const shown = property.secret ? "(hidden)" : JSON.stringify(given);
      problems.set(key, `${key}: expected ${describe(property, error.message.toLowerCase())}, got ${shown}`);
    }
  }
  if (problems.size > 0) throw new ConfigError(service, [...problems.values()]);
  return value as Static<T>;
}

/**
 * parseEnv for a service's main: prints the ConfigError and exits 1 instead of throwing. `check`
 * returns the problems that span variables (a service's configProblems, productionSecretProblems
 * among them); they are reported the same way. While ALLOW_DEMO_SECRETS=true is set, a warning
 * saying so goes to stderr at every start.
 */
export function loadConfig<T extends TObject>(
  service: string,
  schema: T,
  source: Record<string, string | undefined>,
  check?: (config: Static<T>) => string[],
): Static<T> {
  try {
    const config = parseEnv(service, schema, source);
    const problems = check?.(config) ?? [];
    if (problems.length) throw new ConfigError(service, problems);
    const warning = demoSecretsWarning(service, config as Record<string, unknown>, schema);
    if (warning) process.stderr.write(`${warning}\n`);
    return config;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Names of the variables a schema reads (the compose/.env.example checks use this). */
export const envNames = (schema: TObject): string[] => Object.keys(schema.properties);

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * DATABASE_STATEMENT_TIMEOUT_MS with a service's own default: how long one statement may run, and
 * one transaction sit idle, on the service's connections before PostgreSQL ends it (0: never).
 */
export const statementTimeoutEnv = (defaultMs: number) =>
  env.int({
    minimum: 0,
    maximum: 86_400_000,
    default: defaultMs,
    description: "milliseconds (0: no limit), an integer >= 0 <= 86400000",
  });

/** Variables every service reads. */
export const commonEnv = {
  NODE_ENV: env.oneOf(["development", "production", "test"] as const, { default: "development" }),
  LOG_LEVEL: env.oneOf(LOG_LEVELS, { default: "info" }),
  /** json in containers; pretty for people; auto = pretty only when stdout is a terminal. */
  LOG_FORMAT: env.oneOf(["auto", "json", "pretty"] as const, { default: "auto" }),
  DATABASE_URL: env.url(["postgres", "postgresql"], {
    default: "postgres://postgres@127.0.0.1:5432/finanzas",
  }),
  DATABASE_POOL_MAX: env.int({ minimum: 1, maximum: 100, default: 10 }),
  /** Each service sets its own default (statementTimeoutEnv); this one is the API's. */
  DATABASE_STATEMENT_TIMEOUT_MS: statementTimeoutEnv(30_000),
  REDIS_URL: env.url(["redis", "rediss"], { default: "redis://127.0.0.1:6379" }),
  QUEUE_PREFIX: Type.String({
    pattern: "^[A-Za-z0-9_.-]+$",
    default: "finanzas",
    description: "letters, digits, '_', '.' or '-'",
  }),
  SHUTDOWN_TIMEOUT_MS: env.int({ minimum: 0, maximum: 3_600_000, default: 25_000 }),
  /**
   * With NODE_ENV=production, accept the demo's published secrets (docker/demo.env, each for its
   * own variable and nothing else): the demo stack only, never a reachable deployment. Warned at
   * every start.
   */
  ALLOW_DEMO_SECRETS: env.bool({ default: false }),
};

export {
  DEMO_SECRET_ALTERNATIVES,
  DEMO_SECRETS,
  demoSecretsInUse,
  demoSecretsWarning,
  estimateEntropyBits,
  PLACEHOLDER_MARKERS,
  PUBLISHED_SECRETS,
  productionSecretProblems,
  publishedSource,
  urlPassword,
} from "./secrets.js";
export type { Static, TObject };
export { Type };
