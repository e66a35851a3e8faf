/** The ETL's bookkeeping tables (sync runs, per-model results, cursors), schema `etl`. Added with their migrations. */
// biome-ignore lint/suspicious/noEmptyInterface: tables arrive with the migrations that create them
export interface EtlTables {}
