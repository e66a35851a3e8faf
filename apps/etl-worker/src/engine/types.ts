import type { EtlJobName, RunResult, SyncMode } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import type { ModelSpec } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import type { OdooClient } from "@finanzas/odoo";
import type { Redis } from "ioredis";
import type { Pool } from "pg";
import type { EtlMetrics } from "../metrics.js";
import type { PageReader } from "../odoo/pages.js";
import type { CursorState } from "../postgres/load.js";

/* The engine's types and settings, apart from its parts so that every part can name them. */

export interface EtlSettings {
  /** Records per Odoo page (ODOO_PAGE_SIZE). */
  pageSize: number;
  /** Models synced at once per job (ETL_MODEL_CONCURRENCY). */
  modelConcurrency: number;
  /** The incremental window starts this long before the cursor (ETL_OVERLAP_SECONDS). */
  overlapSeconds: number;
  /** Lease of a model's lock; renewed by a heartbeat every fifth of it (ETL_LOCK_TTL_SECONDS). */
  lockTtlSeconds: number;
  /** Deletion reconciliation: ranges holding at most this many ids are compared id by id. */
  reconcileLeafSize: number;
  /**
   * Odoo requests in flight at once across the models of a job (ODOO_MAX_CONCURRENCY): also how
   * many partitions a large model's full pass is read in.
   */
  odooConcurrency: number;
  /** A full pass over more records than this is read in partitions at once (ETL_PARTITION_MIN_RECORDS; 0: never). */
  partitionMinRecords: number;
}

export const DEFAULT_SETTINGS: EtlSettings = {
  pageSize: 1000,
  modelConcurrency: 4,
  overlapSeconds: 600,
  lockTtlSeconds: 15,
  reconcileLeafSize: 2000,
  odooConcurrency: 4,
  partitionMinRecords: 10_000,
};

export interface EngineDeps {
  db: Kysely<Database>;
  /**
   * The pool behind `db`: with it, the pages of a full pass whose ids are above every id the table
   * holds (a first sync) are written with COPY instead of the upsert.
   */
  pool?: Pool | undefined;
  odoo: OdooClient;
  /** Publishes the "data changed" signal; omitted = not published. */
  publisher?: Pick<Redis, "publish"> | undefined;
  queuePrefix: string;
  logger: Logger;
  settings: EtlSettings;
  /** Where sync pages are fetched, decoded and mapped; default: on this thread with `odoo`. */
  reader?: PageReader | undefined;
  /** Told as each model's work in a run ends (Prometheus in the service). */
  metrics?: EtlMetrics | undefined;
}

/** The engine's dependencies with their defaults filled in. */
export type EngineParts = EngineDeps & { reader: PageReader };

/** The queue's view of the job being run: its id and attempt, abort signal, logger and progress. */
export interface JobRun {
  jobId: string;
  attempt: number;
  signal: AbortSignal;
  logger: Logger;
  progress(value: object): Promise<void>;
}

/** What a run is: recorded in `etl.runs` as asked. */
export interface RunRequest {
  job: EtlJobName;
  /** The models, already checked against the registry (src/jobs/common.ts). */
  models: readonly ModelSpec[];
  /**
   * The sync's mode; null for a job that does not bring models up to date (a deletion check, a
   * re-read of some records): their "last success" is left as it was.
   */
  mode: SyncMode | null;
  requestedBy: string | undefined;
}

/** One model's work in a run, under its lease: the passes a job composes. */
export interface ModelPass {
  readonly model: string;
  /** The model's cursor: where an incremental pass starts, whether a full pass is in progress. */
  cursor(): Promise<CursorState>;
  /**
   * A full pass by id, resuming the one in progress that `cursor` shows; at its end the incremental
   * cursor continues from the newest write_date it saw, which it returns (in seconds; null: none).
   */
  full(cursor: CursorState): Promise<number | null>;
  /** Records written since `second` less ETL_OVERLAP_SECONDS, by write_date then id. */
  incremental(second: number): Promise<void>;
  /** Records deleted in Odoo marked deleted here; ones missing here read and written. */
  reconcile(): Promise<void>;
  /** These records read now and written; those Odoo no longer has marked deleted. */
  records(ids: readonly number[]): Promise<void>;
  /**
   * The records earlier runs left out (etl.rejected) read again: written once Odoo's values can be
   * stored, marked deleted when Odoo no longer has them, listed again otherwise.
   */
  rejected(): Promise<void>;
  /** Runs a phase of the work; its wall time goes into the model's outcome log. */
  timed<T>(phase: string, fn: () => Promise<T>): Promise<T>;
}

export interface Engine {
  /** A run: its history rows, `work` for each model (largest first), the outcome, the signal. */
  run(job: JobRun, request: RunRequest, work: (pass: ModelPass) => Promise<void>): Promise<RunResult>;
}
