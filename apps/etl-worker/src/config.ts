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
import { clientOptionsFromEnv, type OdooClientOptions, odooEnv } from "@finanzas/odoo";
import { DEFAULT_SETTINGS, type EtlSettings } from "./engine/index.js";

export const ConfigSchema = Type.Object({
  ...commonEnv,
  ...odooEnv,
  /**
   * A statement of the ETL (a page's upsert or COPY, an ANALYZE, a table's DDL) and an idle
   * transaction (a worker frozen in the middle of a batch, whose lease check blocks the takeover of
   * its models) end after this long.
   */
  DATABASE_STATEMENT_TIMEOUT_MS: statementTimeoutEnv(300_000),
  HEALTH_PORT: env.port(3101),
  ETL_CONCURRENCY: env.int({ minimum: 1, maximum: 256, default: 2 }),
  /** Models synced at once by one job (their Odoo requests in flight capped by ODOO_MAX_CONCURRENCY). */
  ETL_MODEL_CONCURRENCY: env.int({ minimum: 1, maximum: 16, default: 4 }),
  /**
   * A full pass over a model with more records than this is read as up to ODOO_MAX_CONCURRENCY id
   * ranges at once, and an incremental window with more changed records as write_date ranges; 0
   * never splits.
   */
  ETL_PARTITION_MIN_RECORDS: env.int({ minimum: 0, maximum: 1_000_000_000, default: 10_000 }),
  /**
   * Threads that fetch, decode and map Odoo pages. One keeps the peak RSS lowest; with two, the
   * pages of one model decode on both in turn (on a 2-core machine a full sync about 15 % faster,
   * at a peak RSS of 255–279 MB instead of 206–216; bench/README.md).
   */
  ETL_READER_THREADS: env.int({ minimum: 1, maximum: 8, default: 1 }),
  /** Records per Odoo page (search_read limit); 500–2000 is safe on real servers. */
  ODOO_PAGE_SIZE: env.int({ minimum: 10, maximum: 10_000, default: 1000 }),
  /** The incremental window starts this many seconds before the cursor, for late commits. */
  ETL_OVERLAP_SECONDS: env.int({ minimum: 0, maximum: 86_400, default: 600 }),
  /**
   * Lease of a model's lock, renewed by a heartbeat every fifth of it; a killed worker's models are
   * free again after this long (at once when it ran on the same host and its process is gone).
   */
  ETL_LOCK_TTL_SECONDS: env.int({ minimum: 3, maximum: 3600, default: 15 }),
  /**
   * Attempts per Odoo call on transport errors (502/504, resets, timeouts), the first included: the
   * Odoo client's, the only retries there are, all within ODOO_CALL_DEADLINE_MS.
   */
  ETL_ODOO_RETRIES: env.int({ minimum: 1, maximum: 20, default: 6 }),
  /** Finished runs older than this many days are deleted by the scheduled `purge-runs` (ETL_PURGE_CRON). */
  ETL_RUN_RETENTION_DAYS: env.int({ minimum: 1, maximum: 36_500, default: 90 }),
});

export type Config = Static<typeof ConfigSchema>;

/** In production: no published or guessable secret (ODOO_PASSWORD, the passwords in the URLs). */
export const configProblems = (config: Config): string[] => productionSecretProblems(config, ConfigSchema);

/** configProblems as one ConfigError (the deployment checks). */
export function checkConfig(config: Config): Config {
  const problems = configProblems(config);
  if (problems.length) throw new ConfigError("etl-worker", problems);
  return config;
}

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("etl-worker", ConfigSchema, source, configProblems);

/**
 * The Odoo client's options: the connection, its deadline and cap, and the ETL's retry policy
 * (ETL_ODOO_RETRIES attempts, backoff from 1 s doubling to 30 s, all within ODOO_CALL_DEADLINE_MS).
 */
export const odooClientOptions = (config: Config): OdooClientOptions => ({
  ...clientOptionsFromEnv(config),
  retry: { attempts: config.ETL_ODOO_RETRIES, baseDelayMs: 1000, maxDelayMs: 30_000 },
});

export const settingsFrom = (config: Config): EtlSettings => ({
  ...DEFAULT_SETTINGS,
  pageSize: config.ODOO_PAGE_SIZE,
  modelConcurrency: config.ETL_MODEL_CONCURRENCY,
  overlapSeconds: config.ETL_OVERLAP_SECONDS,
  lockTtlSeconds: config.ETL_LOCK_TTL_SECONDS,
  odooConcurrency: config.ODOO_MAX_CONCURRENCY,
  partitionMinRecords: config.ETL_PARTITION_MIN_RECORDS,
});

/** What the `etl:run` / `etl:status` commands read: where the queue and the database are. */
export const CliConfigSchema = Type.Object({
  DATABASE_URL: commonEnv.DATABASE_URL,
  REDIS_URL: commonEnv.REDIS_URL,
  QUEUE_PREFIX: commonEnv.QUEUE_PREFIX,
});
export type CliConfig = Static<typeof CliConfigSchema>;
export const readCliConfig = (source: Record<string, string | undefined>): CliConfig =>
  loadConfig("etl", CliConfigSchema, source);
