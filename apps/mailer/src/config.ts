import {
  ConfigError,
  commonEnv,
  env,
  loadConfig,
  parseEnv,
  productionSecretProblems,
  type Static,
  statementTimeoutEnv,
  type TObject,
  Type,
} from "@finanzas/config";
import { storageConfigProblems, storageEnv } from "@finanzas/storage";
import type { TProperties } from "@sinclair/typebox";

const address = (description: string) =>
  Type.String({
    pattern: "^(.*<[^<>\\s@]+@[^<>\\s@]+>|[^<>\\s@]+@[^<>\\s@]+)$",
    description,
  });

const DEFAULT_FROM = "Finanzas <no-reply@finanzas.local>";

const serviceEnv = {
  ...commonEnv,
  ...storageEnv,
  /** Recipient selection over the synced copy is the mailer's longest statement. */
  DATABASE_STATEMENT_TIMEOUT_MS: statementTimeoutEnv(60_000),
  HEALTH_PORT: env.port(3104),
};

const mailEnv = {
  /** mail jobs at once in this process; send-batch jobs share the SMTP pool's connections. */
  MAIL_CONCURRENCY: env.int({ minimum: 1, maximum: 256, default: 16 }),
  /** Messages per send-batch job a planning enqueues; never more than a tenth of MAIL_RATE_PER_SECOND. */
  MAIL_BATCH_SIZE: env.int({ minimum: 1, maximum: 1_000, default: 50 }),
  /** smtp:// (STARTTLS when offered) or smtps:// (TLS from the start), with user:password when needed. */
  SMTP_URL: env.url(["smtp", "smtps"], { default: "smtp://127.0.0.1:1025" }),
  /** Pooled SMTP connections per mailer process. */
  SMTP_POOL_SIZE: env.int({ minimum: 1, maximum: 100, default: 5 }),
  /** Milliseconds to connect, greet, or wait for a reply (a message's DATA reply included). */
  SMTP_TIMEOUT_MS: env.int({ minimum: 1_000, maximum: 600_000, default: 60_000 }),
  /** The sender, "Name <address>" or an address. */
  MAIL_FROM: Type.String({
    ...address('an address or "Name <address>"'),
    default: DEFAULT_FROM,
  }),
  /** Per-company senders: `companyId=Name <address>` pairs separated by `;`. */
  MAIL_FROM_BY_COMPANY: env.optional(
    Type.String({
      pattern: "^\\s*\\d+\\s*=[^;]+(;\\s*\\d+\\s*=[^;]+)*;?\\s*$",
      description: 'pairs "companyId=Name <address>" separated by ";"',
    }),
  ),
  MAIL_REPLY_TO: env.optional(address('an address or "Name <address>"')),
  /** Messages per second, across every mailer replica (a token bucket in Redis each message takes from). */
  MAIL_RATE_PER_SECOND: env.int({ minimum: 1, maximum: 100_000, default: 10 }),
  /** How long the whole queue pauses when the server answers 421 or 454 (ms). */
  MAIL_THROTTLE_PAUSE_MS: env.int({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  /** Sends of one message before a temporary failure becomes `failed`. */
  MAIL_MAX_ATTEMPTS: env.int({ minimum: 1, maximum: 50, default: 8 }),
  /** First delay before a temporary failure is retried (ms); doubled each time. */
  MAIL_RETRY_DELAY_MS: env.int({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  /** A customer is not sent the same reminder level again within this many days. */
  MAIL_REMINDER_MIN_DAYS: env.int({ minimum: 0, maximum: 3650, default: 7 }),
  /** The template language for partners whose language has no variant. */
  MAIL_DEFAULT_LANG: Type.String({
    pattern: "^[a-z]{2,3}$",
    default: "es",
    description: "a language code: es, en",
  }),
  /** Statements and reminders attach the partner-statement workbook (built by the report-worker). */
  MAIL_ATTACH_STATEMENTS: env.bool({ default: true }),
  /** Base URL of the web-api as recipients reach it, for the one-click unsubscribe links. */
  MAIL_PUBLIC_URL: env.url(["http", "https"], { default: "http://localhost:3000" }),
  /** Signs the unsubscribe links (HMAC-SHA256); the web-api verifies them with the same value. */
  MAIL_UNSUBSCRIBE_SECRET: env.optional(env.secret({ minLength: 32, minBits: 128 })),
  /** A `sending` row older than this (seconds) is `unknown` even if its mailer still answers. */
  MAIL_SENDING_TIMEOUT_SECONDS: env.int({ minimum: 30, maximum: 86_400, default: 900 }),
  /**
   * A queued (or retry) row of a sending mailing untouched this long (seconds) whose job the queue
   * does not have (a lost enqueue) is enqueued again.
   */
  MAIL_REQUEUE_AFTER_SECONDS: env.int({ minimum: 10, maximum: 86_400, default: 300 }),
  DKIM_DOMAIN: env.optional(env.string({ description: "the signing domain, e.g. example.com" })),
  DKIM_SELECTOR: env.optional(env.string({ description: "the selector of the DNS key record" })),
  /** PEM private key (RSA or Ed25519); `\n` escapes are accepted. */
  DKIM_PRIVATE_KEY: env.optional(env.secret({ description: "a PEM private key" })),
};

const ServiceSchema = Type.Object(serviceEnv);
const MailSchema = Type.Object(mailEnv);

export const ConfigSchema: TObject = Type.Object({
  ...ServiceSchema.properties,
  ...MailSchema.properties,
} as TProperties);

// Typed in two halves: TypeScript gives up ("excessively deep") on the Static of one object this large.
export type Config = Static<typeof ServiceSchema> & Static<typeof MailSchema>;

/**
 * Checks that span variables: DKIM's three go together, storage's pairs; in production a sender of
 * your own, and no secret published in the repository or guessable (productionSecretProblems).
 */
export function configProblems(config: Config): string[] {
  const problems = storageConfigProblems(config);
  const dkim = (["DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY"] as const).filter(
    (k) => config[k] === undefined,
  );
  if (dkim.length > 0 && dkim.length < 3) {
    problems.push(`${dkim.join(" and ")} must be set with the other DKIM_ variables (or unset all three)`);
  }
  if (
    config.DKIM_PRIVATE_KEY &&
    !config.DKIM_PRIVATE_KEY.replace(/\\n/g, "\n").includes("PRIVATE KEY-----")
  ) {
    problems.push("DKIM_PRIVATE_KEY: expected a PEM private key (-----BEGIN PRIVATE KEY-----…)");
  }
  if (config.NODE_ENV === "production" && config.MAIL_FROM === DEFAULT_FROM) {
    problems.push("MAIL_FROM is required in production: the address your customers see and reply to");
  }
  if (config.NODE_ENV === "production" && !config.MAIL_UNSUBSCRIBE_SECRET) {
    problems.push(
      "MAIL_UNSUBSCRIBE_SECRET is required in production (at least 32 characters, the same value as web-api's)",
    );
  }
  problems.push(...productionSecretProblems(config, ConfigSchema));
  return problems;
}

/** The checks across variables, as a ConfigError (for the deployment tests, like web-api's). */
export function checkConfig(config: Config): Config {
  const problems = configProblems(config);
  if (problems.length) throw new ConfigError("mailer", problems);
  return config;
}

/** Parses and checks; throws a ConfigError listing every problem. */
export function parseConfig(source: Record<string, string | undefined>): Config {
  const config = parseEnv("mailer", ConfigSchema, source) as Config;
  const problems = configProblems(config);
  if (problems.length) throw new ConfigError("mailer", problems);
  return config;
}

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("mailer", ConfigSchema, source, (config) => configProblems(config as Config)) as Config;

/** The sender of a company's mail: its MAIL_FROM_BY_COMPANY entry, else MAIL_FROM. */
export function senderFor(
  config: Pick<Config, "MAIL_FROM" | "MAIL_FROM_BY_COMPANY">,
  companyId: number | null,
) {
  if (companyId !== null && config.MAIL_FROM_BY_COMPANY) {
    for (const pair of config.MAIL_FROM_BY_COMPANY.split(";")) {
      const at = pair.indexOf("=");
      if (at > 0 && Number(pair.slice(0, at).trim()) === companyId) return pair.slice(at + 1).trim();
    }
  }
  return config.MAIL_FROM;
}

/** The right-hand side of Message-IDs: the DKIM domain, else MAIL_FROM's domain. */
export function messageIdDomain(config: Pick<Config, "DKIM_DOMAIN" | "MAIL_FROM">): string {
  if (config.DKIM_DOMAIN) return config.DKIM_DOMAIN;
  const address = config.MAIL_FROM.match(/<([^<>]+)>\s*$/)?.[1] ?? config.MAIL_FROM;
  return address.split("@")[1]?.trim() || "finanzas.local";
}
