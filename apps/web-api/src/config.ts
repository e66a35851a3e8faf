import { isIP } from "node:net";
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
  /**
   * The Redis of the read cache (unset: REDIS_URL). Meant to be a Redis of its own with a byte cap
   * and `maxmemory-policy allkeys-lru`, so cached reads never take the queue Redis's memory.
   */
  CACHE_REDIS_URL: env.optional(
    env.url(["redis", "rediss"], {
      description: "a redis:// or rediss:// URL of a Redis for the read cache (maxmemory + allkeys-lru)",
    }),
  ),
  /** Bytes of response bodies the in-process layer of the read cache keeps at most (per process). */
  CACHE_MEMORY_MAX_BYTES: env.int({ minimum: 0, maximum: 4_294_967_296, default: 33_554_432 }),
  /** How long one statement of the aging report or the dashboard may run before PostgreSQL stops it (503). */
  REPORT_STATEMENT_TIMEOUT_MS: env.int({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  /**
   * Which proxies in front may name the client in X-Forwarded-For (see trustProxyOption): `false`,
   * a hop count, or a comma list of proxy addresses and CIDR ranges. Never `true`.
   */
  TRUST_PROXY: env.string({
    default: "false",
    description:
      "false, a hop count (1 = one proxy in front), or a comma list of proxy addresses/CIDRs (10.0.0.0/8,127.0.0.1)",
  }),
  /** Time a client has to send a request's headers (slow-header clients are cut off). */
  HTTP_HEADERS_TIMEOUT_MS: env.int({ minimum: 1_000, maximum: 600_000, default: 10_000 }),
  /** Time a client has to send a whole request, headers and body. */
  HTTP_REQUEST_TIMEOUT_MS: env.int({ minimum: 1_000, maximum: 3_600_000, default: 30_000 }),
  /** An idle keep-alive connection is closed after this (above a load balancer's idle timeout). */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: env.int({ minimum: 1_000, maximum: 600_000, default: 65_000 }),
  /** A connection on which nothing moves for this long is closed (a request being answered included). */
  HTTP_CONNECTION_TIMEOUT_MS: env.int({ minimum: 1_000, maximum: 3_600_000, default: 120_000 }),
  /** bull-board (/admin/queues) may retry, remove, promote and pause jobs only when true. */
  ADMIN_QUEUES_WRITE: env.bool({ default: false }),
  /** Lifetime of a queue-dashboard session (its cookie), from the login form. */
  ADMIN_QUEUES_SESSION_SECONDS: env.int({ minimum: 60, maximum: 86_400, default: 3_600 }),
  /** Report files: the directory or bucket the report-worker writes (downloads are served from it). */
  ...storageEnv,
  /** Reports one user may have queued or running at once; one more is a 429. */
  REPORT_MAX_ACTIVE_PER_USER: env.int({ minimum: 1, maximum: 1_000, default: 3 }),
  /** Mailings (test sends included) one user may have planning or sending at once; one more is a 429. */
  MAIL_MAX_ACTIVE_PER_USER: env.int({ minimum: 1, maximum: 1_000, default: 3 }),
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

/** proxy-addr's names for ranges (loopback, link-local and unique-local, IPv4 and IPv6). */
const PROXY_RANGE_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

/**
 * TRUST_PROXY as Fastify's `trustProxy`: false (the socket's address is the client), a hop count
 * (the address that many proxies from the socket), or the proxies' addresses (each hop from those
 * is skipped). `true` would let any client name itself in X-Forwarded-For and so pick its own login
 * and rate-limit budget: it is refused (see trustProxyProblem).
 */
export function trustProxyOption(value: string): false | number | string[] {
  const text = value.trim().toLowerCase();
  if (text === "false" || text === "0") return false;
  if (/^\d+$/.test(text)) return Number(text);
  return text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}

/** Why TRUST_PROXY is refused, or undefined when it is valid. */
export function trustProxyProblem(value: string): string | undefined {
  const text = value.trim().toLowerCase();
  if (text === "true" || text === "*") {
    return `TRUST_PROXY=${value} would trust every client's X-Forwarded-For (any client could pick its own address, and with it its login and rate-limit budget): set the number of proxies in front (e.g. TRUST_PROXY=1) or their addresses (e.g. TRUST_PROXY=10.0.0.0/8,127.0.0.1)`;
  }
  const option = trustProxyOption(value);
  if (typeof option === "number") {
    return option > 10 ? `TRUST_PROXY=${value}: expected a hop count of at most 10` : undefined;
  }
  if (option === false) return undefined;
  const bad = option.filter((entry) => !isProxyAddress(entry));
  if (bad.length === 0 && option.length > 0) return undefined;
  return `TRUST_PROXY: expected false, a hop count, or a comma list of IP addresses/CIDRs (or loopback, linklocal, uniquelocal); ${bad.map((b) => JSON.stringify(b)).join(", ") || "nothing"} is not one`;
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address = "", bits, ...rest] = entry.split("/");
  if (rest.length) return false;
  const version = isIP(address);
  if (version === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (version === 4 ? 32 : 128);
}

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
  const proxy = trustProxyProblem(config.TRUST_PROXY);
  if (proxy) problems.push(proxy);
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push(
      `HTTP_HEADERS_TIMEOUT_MS (${config.HTTP_HEADERS_TIMEOUT_MS}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.HTTP_REQUEST_TIMEOUT_MS}): the headers are part of the request`,
    );
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
