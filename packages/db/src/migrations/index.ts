import type { Migration } from "kysely";
import * as m000 from "./2026_11_29_000000_schemas.js";
import * as m100000 from "./2026_11_29_100000_etl_bookkeeping.js";
import * as m200000 from "./2026_11_29_200000_app_auth.js";
import * as m1130_000000 from "./2026_11_30_000000_app_token_revocation.js";
import * as m1202_000000 from "./2026_12_02_000000_etl_cursor_absent.js";
import * as m1207_000000 from "./2026_12_07_000000_reports.js";
import * as m1207_100000 from "./2026_12_07_100000_mail.js";
import * as m1207_200000 from "./2026_12_07_200000_etl_partitions.js";
import * as m1207_330000 from "./2026_12_07_330000_app_must_change_password.js";
import * as m1210_000000 from "./2026_12_10_000000_etl_rejected.js";
import * as m1211_000000 from "./2026_12_11_000000_report_file_deletions.js";

/**
 * Every migration, in order. Append-only: a migration that has run anywhere is never edited;
 * names are timestamps so branches merge in order. Listed statically so they ship inside the
 * build (no directory scanning at run time).
 */
export const migrations: Record<string, Migration> = {
  "2026_11_29_000000_schemas": m000,
  "2026_11_29_100000_etl_bookkeeping": m100000,
  "2026_11_29_200000_app_auth": m200000,
  "2026_11_30_000000_app_token_revocation": m1130_000000,
  "2026_12_02_000000_etl_cursor_absent": m1202_000000,
  "2026_12_07_000000_reports": m1207_000000,
  "2026_12_07_100000_mail": m1207_100000,
  "2026_12_07_200000_etl_partitions": m1207_200000,
  "2026_12_07_330000_app_must_change_password": m1207_330000,
  "2026_12_10_000000_etl_rejected": m1210_000000,
  "2026_12_11_000000_report_file_deletions": m1211_000000,
};
