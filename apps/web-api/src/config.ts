import {
  ConfigError,
  commonEnv,
  env,
  loadConfig,
  productionSecretProblems,
  type Static,
  Type,
} from "@finanzas/config";
import { storageConfigProblems, storageEnv } from "@finanzas/storage";

export const ConfigSchema = Type.Object({
  ...commonEnv,
  PORT: env.port(3000),
  HOST: env.string({ default: "0.0.0.0", description: "an interface address to listen on" }),
  JWT_SECRET: env.optional(
    env.secret({
      minLength: 32,
      minBits: 128,
      description: "a secret of at least 32 characters (e.g. openssl rand -base64 48)",
    }),
  ),
  ACCESS_TOKEN_TTL_SECONDS: env.int({ minimum: 30, maximum: 86_400, default: 900 }),
  REFRESH_TOKEN_TTL_DAYS: env.int({ minimum: 1, maximum: 365, default: 30 }),
  ADMIN_EMAIL: env.optional(
    Type.String({
      pattern: "^[^@\\s]+@[^@\\s]+$",
      description: "an email address (the first admin's login)",
    }),
  ),
  /** In production the admin created from it must choose a new password at first login. */
  ADMIN_PASSWORD: env.optional(
    env.secret({ minLength: 12, description: "a password of at least 12 characters" }),
  ),
  CORS_ORIGINS: env.string({
    default: "http://localhost:5173",
    description: "comma-separated origins allowed by CORS, or * for any",
  }),
  METRICS_TOKEN: env.optional(
    env.secret({
      minLength: 16,
      minBits: 64,
      description: "a bearer token of at least 16 characters for /metrics",
    }),
  ),
  RATE_LIMIT_MAX: env.int({ minimum: 1, maximum: 1_000_000, default: 600 }),
  RATE_LIMIT_WINDOW_SECONDS: env.int({ minimum: 1, maximum: 86_400, default: 60 }),
  LOGIN_RATE_LIMIT_MAX: env.int({ minimum: 1, maximum: 10_000, default: 10 }),
  LOGIN_RATE_LIMIT_WINDOW_SECONDS: env.int({ minimum: 1, maximum: 86_400, default: 900 }),
  CACHE_TTL_SECONDS: env.int({ minimum: 0, maximum: 86_400, default: 300 }),
  /** How long one statement of the aging report or the dashboard may run before PostgreSQL stops it (503). */
  REPORT_STATEMENT_TIMEOUT_MS: env.int({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  TRUST_PROXY: env.bool({ default: false }),
  /** Report files: the directory or bucket the report-worker writes (downloads are served from it). */
  ...storageEnv,
  /** Reports one user may have queued or running at once; one more is a 429. */
  REPORT_MAX_ACTIVE_PER_USER: env.int({ minimum: 1, maximum: 1_000, default: 3 }),
  /** Lifetime of a presigned download URL when reports are in an S3 bucket (s). */
  REPORT_DOWNLOAD_URL_SECONDS: env.int({ minimum: 10, maximum: 604_800, default: 300 }),
  /** Verifies the one-click unsubscribe links the mailer signs (HMAC-SHA256): the mailer's value. */
  MAIL_UNSUBSCRIBE_SECRET: env.optional(
    env.secret({
      minLength: 32,
      minBits: 128,
      description: "a secret of at least 32 characters, the same value as the mailer's",
    }),
  ),
});

export type Config = Static<typeof ConfigSchema>;

/**
 * The checks that span variables. In production: the signing secrets are required, and no secret
 * may be published in the repository or guessable (productionSecretProblems, shared by every service).
 */
export function configProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.NODE_ENV === "production" && !config.JWT_SECRET) {
    problems.push(
      "JWT_SECRET is required with NODE_ENV=production: at least 32 random characters (e.g. `openssl rand -base64 48`)",
    );
  }
  problems.push(...storageConfigProblems(config));
  if (config.NODE_ENV === "production" && !config.MAIL_UNSUBSCRIBE_SECRET) {
    problems.push(
      "MAIL_UNSUBSCRIBE_SECRET is required with NODE_ENV=production (at least 32 characters, the same value as the mailer's): it verifies the one-click unsubscribe links",
    );
  }
  if ((config.ADMIN_EMAIL === undefined) !== (config.ADMIN_PASSWORD === undefined)) {
    problems.push("ADMIN_EMAIL and ADMIN_PASSWORD go together: set both or neither");
  }
  problems.push(...productionSecretProblems(config, ConfigSchema));
  return problems;
}

/** configProblems as one ConfigError (tests, and the deployment checks). */
export function checkConfig(config: Config): Config {
  const problems = configProblems(config);
  if (problems.length) throw new ConfigError("web-api", problems);
  return config;
}

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("web-api", ConfigSchema, source, configProblems);
