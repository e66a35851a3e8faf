import { type Kysely, sql } from "kysely";

// The ETL's bookkeeping, schema `etl`: run history (runs + per-model results), one cursor per
// model, and per-model lease rows that keep two workers from syncing the same model at once. The
// model tables themselves (odoo.*) follow the worker's model registry and are created by it.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists etl`.execute(db);
  await sql`
    create table etl.runs (
      id bigserial primary key,
      job text not null check (job in ('sync', 'sync-records', 'reconcile-deletions')),
      job_id text,
      attempt integer not null default 1,
      mode text check (mode in ('incremental', 'full')),
      models text[] not null,
      status text not null check (status in ('queued', 'running', 'succeeded', 'failed')),
      requested_by text,
      fetched bigint not null default 0,
      upserted bigint not null default 0,
      deleted bigint not null default 0,
      error text,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz
    )`.execute(db);
  await sql`create index runs_created_at_idx on etl.runs (created_at desc)`.execute(db);
  await sql`create index runs_job_id_idx on etl.runs (job_id)`.execute(db);
  await sql`
    create table etl.run_models (
      run_id bigint not null references etl.runs (id) on delete cascade,
      model text not null,
      status text not null check (status in ('queued', 'running', 'succeeded', 'failed')),
      mode text,
      fetched bigint not null default 0,
      upserted bigint not null default 0,
      deleted bigint not null default 0,
      missing_fields text[] not null default '{}',
      problems jsonb not null default '[]',
      error text,
      started_at timestamptz,
      finished_at timestamptz,
      primary key (run_id, model)
    )`.execute(db);
  await sql`create index run_models_model_idx on etl.run_models (model, finished_at desc)`.execute(db);
  await sql`
    create table etl.cursors (
      model text primary key,
      write_date timestamptz,
      last_id integer,
      full_high_water timestamptz,
      full_last_id integer,
      full_started_at timestamptz,
      last_full_at timestamptz,
      last_success_at timestamptz,
      last_reconciled_at timestamptz,
      last_run_id bigint,
      updated_at timestamptz not null default now()
    )`.execute(db);
  await sql`
    create table etl.locks (
      model text primary key,
      owner text not null,
      run_id bigint,
      acquired_at timestamptz not null default now(),
      expires_at timestamptz not null
    )`.execute(db);
  await sql`comment on table etl.cursors is ${sql.lit(
    "Per model: write_date/last_id of the last committed incremental batch; full_* while a full pass is in progress",
  )}`.execute(db);
  await sql`comment on table etl.locks is ${sql.lit(
    "Per-model leases (renewed while a sync runs): at most one sync per model across replicas",
  )}`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop schema if exists etl cascade`.execute(db);
}
