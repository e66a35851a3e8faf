import {
  ConfigError,
  commonEnv,
  env,
  loadConfig,
  productionSecretProblems,
  type Static,
  statementTimeoutEnv,
  Type,
} from "@finanzas/config";
import { storageConfigProblems, storageEnv } from "@finanzas/storage";

export const ConfigSchema = Type.Object({
  ...commonEnv,
  ...storageEnv,
  /** The worker's own statements (records, progress); a build's are REPORT_BUILD_STATEMENT_TIMEOUT_MS. */
  DATABASE_STATEMENT_TIMEOUT_MS: statementTimeoutEnv(60_000),
  HEALTH_PORT: env.port(3103),
  REPORT_CONCURRENCY: env.int({ minimum: 1, maximum: 256, default: 2 }),
  /** Hours a finished report's file is kept; the scheduler's cleanup deletes it and its record then. */
  REPORT_TTL_HOURS: env.int({ minimum: 1, maximum: 24 * 365, default: 72 }),
  /** How long one statement of a report may run (ms): a fetch of its cursor, a balance query. */
  REPORT_BUILD_STATEMENT_TIMEOUT_MS: env.int({ minimum: 1_000, maximum: 3_600_000, default: 300_000 }),
  /** A report whose worker died is built again within about twice this (BullMQ's job lock). */
  /**
   * A report still `queued` this long after it was asked for, with no job in the queue (Redis lost
   * it), is enqueued again; one `running` with no job and no progress for REPORT_BUILD_STATEMENT_TIMEOUT_MS
   * more is put back and enqueued again.
   */
  REPORT_REQUEUE_AFTER_SECONDS: env.int({ minimum: 1, maximum: 86_400, default: 120 }),
  REPORT_LOCK_SECONDS: env.int({ minimum: 2, maximum: 600, default: 30 }),
  /** Rows fetched per round trip of a report's cursor: memory holds about one batch. */
  REPORT_BATCH_ROWS: env.int({ minimum: 1, maximum: 100_000, default: 2_000 }),
  /**
   * The scheduled cleanup (REPORT_CLEANUP_CRON) also deletes refresh tokens expired or revoked longer
   * ago than this many days (the API's; this worker's database role may delete them)…
   */
  REFRESH_TOKEN_RETENTION_DAYS: env.int({ minimum: 1, maximum: 36_500, default: 30 }),
  /**
   * …and mailings finished (done, cancelled, failed) longer ago than this many days, with their
   * outbox rows; never the suppression list. At least MAIL_REMINDER_MIN_DAYS of the mailer, whose
   * "level already sent" check reads the outbox.
   */
  MAIL_RETENTION_DAYS: env.int({ minimum: 30, maximum: 36_500, default: 365 }),
});

export type Config = Static<typeof ConfigSchema>;

/** Checks that span variables: storage's pairs; in production, no published or guessable secret. */
export const configProblems = (config: Config): string[] => [
  ...storageConfigProblems(config),
  ...productionSecretProblems(config, ConfigSchema),
];

/** configProblems as one ConfigError (the deployment checks). */
export function checkConfig(config: Config): Config {
  const problems = configProblems(config);
  if (problems.length) throw new ConfigError("report-worker", problems);
  return config;
}

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("report-worker", ConfigSchema, source, configProblems);
