import {
  ConfigError,
  commonEnv,
  env,
  loadConfig,
  productionSecretProblems,
  type Static,
  Type,
} from "@finanzas/config";

/** Five-field cron (minute hour day month weekday), or `off` to remove the schedule. */
const cron = (fallback: string) =>
  Type.String({
    pattern: "^(off|(\\S+\\s+){4}\\S+)$",
    default: fallback,
    description: "a five-field cron expression (minute hour day-of-month month day-of-week) or off",
  });

export const ConfigSchema = Type.Object({
  ...commonEnv,
  HEALTH_PORT: env.port(3102),
  /** Incremental sync of every registered model. */
  ETL_SYNC_CRON: cron("*/15 * * * *"),
  /**
   * Also run the incremental sync once at start (a fresh install's first copy, a restart's catch-up),
   * unless an identical sync is already waiting or running; nothing when ETL_SYNC_CRON is off.
   */
  ETL_SYNC_AT_START: env.bool({ default: true }),
  /** Deletion reconciliation of every registered model (nightly). */
  ETL_RECONCILE_CRON: cron("30 2 * * *"),
  /** Deletion of expired report files and records (REPORT_TTL_HOURS of the report-worker). */
  REPORT_CLEANUP_CRON: cron("17 * * * *"),
  /** Deletion of the ETL's finished runs past ETL_RUN_RETENTION_DAYS (the etl-worker's purge-runs). */
  ETL_PURGE_CRON: cron("45 3 * * *"),
  /** The daily payment reminders (a reminder mailing over every customer with overdue items); off by default. */
  MAIL_REMINDER_CRON: cron("off"),
  /**
   * How often the scheduler checks that Redis still holds every schedule and registers the missing
   * ones again (after a Redis restart without persistence or a FLUSHALL); also at once on reconnect.
   * Keep it below the shortest schedule's period.
   */
  SCHEDULE_CHECK_SECONDS: env.int({ minimum: 1, maximum: 86_400, default: 60 }),
  /** Time zone the crons are read in. */
  SCHEDULE_TZ: env.string({ default: "UTC", description: "an IANA time zone, e.g. UTC or Europe/Madrid" }),
});

export type Config = Static<typeof ConfigSchema>;

/** In production: no published or guessable secret (the password in DATABASE_URL or REDIS_URL). */
export const configProblems = (config: Config): string[] => productionSecretProblems(config, ConfigSchema);

/** configProblems as one ConfigError (the deployment checks). */
export function checkConfig(config: Config): Config {
  const problems = configProblems(config);
  if (problems.length) throw new ConfigError("scheduler", problems);
  return config;
}

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("scheduler", ConfigSchema, source, configProblems);
