import type { ColumnType } from "kysely";

/** The report records, schema `reports` (written by web-api and report-worker). */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface ReportsTable {
  id: string;
  /** One of the contracts' REPORT_KINDS. */
  kind: string;
  params: ColumnType<Record<string, unknown>, string, string>;
  /** sha-256 of kind, params and the caller's scope: identical requests share it. */
  request_key: string;
  requested_by: string | null;
  /** One of the contracts' REPORT_STATUSES. */
  status: string;
  progress: ColumnType<number, number | undefined, number>;
  rows: ColumnType<number, number | undefined, number>;
  bytes: number | null;
  file_name: string;
  storage_key: string | null;
  /** sha-256 of the file, hex. */
  checksum: string | null;
  /** What the synced data was when the file was built (see the report-worker's data version). */
  data_version: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  error: string | null;
  created_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  cancel_requested_at: NullableTimestamp;
}

/** A report file to delete from the store: its records are gone (see the migration). */
export interface ReportFileDeletionsTable {
  storage_key: string;
  queued_at: Timestamp;
  attempts: ColumnType<number, number | undefined, number>;
  last_error: string | null;
  last_attempt_at: NullableTimestamp;
}

export interface ReportTables {
  "reports.reports": ReportsTable;
  "reports.file_deletions": ReportFileDeletionsTable;
}
