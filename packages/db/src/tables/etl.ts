import type { EtlJobName, RunStatus, SyncMode } from "@finanzas/contracts";
import type { ColumnType, Generated } from "kysely";

/**
 * The ETL's bookkeeping tables, schema `etl` (migration 2026_11_29_100000_etl_bookkeeping). Job
 * names, statuses and modes are the contracts' (the migration's check constraints list the same).
 */

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Count = ColumnType<number, number | undefined, number>;

export interface EtlRunsTable {
  id: Generated<number>;
  job: EtlJobName;
  job_id: string | null;
  attempt: ColumnType<number, number | undefined, number>;
  mode: SyncMode | null;
  models: string[];
  status: RunStatus;
  requested_by: string | null;
  fetched: Count;
  upserted: Count;
  deleted: Count;
  /** Records left out because PostgreSQL cannot store one of their values (see EtlRejectedTable). */
  rejected: Count;
  error: string | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

/**
 * One row per model of a run. `problems`: records left out or cleaned ({ id, field, value, expected,
 * action: "rejected" | "cleaned" }, the first 1 000); `rejected`: how many records were left out.
 */
export interface EtlRunModelsTable {
  run_id: number;
  model: string;
  status: RunStatus;
  mode: SyncMode | null;
  fetched: Count;
  upserted: Count;
  deleted: Count;
  rejected: Count;
  missing_fields: ColumnType<string[], string[] | undefined, string[]>;
  problems: ColumnType<unknown[], string | undefined, string>;
  error: string | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

/**
 * Per model: `write_date`/`last_id` of the last committed incremental batch (the next incremental
 * starts at write_date − ETL_OVERLAP_SECONDS); `full_*` set while a full pass is in progress
 * (`full_last_id` = last committed id; a restarted full pass resumes there).
 */
export interface EtlCursorsTable {
  model: string;
  write_date: Timestamp | null;
  last_id: number | null;
  full_high_water: Timestamp | null;
  full_last_id: number | null;
  full_started_at: Timestamp | null;
  last_full_at: Timestamp | null;
  last_success_at: Timestamp | null;
  last_reconciled_at: Timestamp | null;
  /** An optional model the server lacks (or the user cannot read), since when; null once it syncs. */
  absent_at: Timestamp | null;
  last_run_id: number | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Lease per model: held by `owner` until `expires_at`, renewed while its sync runs. */
export interface EtlLocksTable {
  model: string;
  owner: string;
  run_id: number | null;
  acquired_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: Timestamp;
}

/**
 * One id range of a full pass in progress over a large model (migration
 * 2026_12_07_200000_etl_partitions): ids in (`after_id`, `to_id`] (`to_id` null: no upper bound),
 * committed up to `last_id` with `done` records of the `expected` ones; `high_water` is the newest
 * write_date committed. Deleted when the pass completes, with the model's cursor moved.
 */
export interface EtlPartitionsTable {
  model: string;
  part: number;
  after_id: number;
  to_id: number | null;
  last_id: number;
  expected: Count;
  done: Count;
  high_water: Timestamp | null;
  started_at: ColumnType<Date, Date | string | undefined, Date | string>;
  finished_at: Timestamp | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/**
 * An Odoo record a sync could not write (migration 2026_12_10_000000_etl_rejected): why
 * (`problems`: [{ field, expected, value }]), since which run and until which. Written in the
 * transaction of the page that left it out; gone once a sync writes the record or finds it deleted.
 */
export interface EtlRejectedTable {
  model: string;
  id: number;
  problems: ColumnType<unknown[], string, string>;
  first_run_id: number | null;
  last_run_id: number | null;
  first_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface EtlTables {
  "etl.runs": EtlRunsTable;
  "etl.run_models": EtlRunModelsTable;
  "etl.cursors": EtlCursorsTable;
  "etl.locks": EtlLocksTable;
  "etl.partitions": EtlPartitionsTable;
  "etl.rejected": EtlRejectedTable;
}
