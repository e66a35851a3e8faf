/**
 * Retention: what is deleted once it is older than its retention period, and what is kept however
 * old. Every purge deletes in batches of `batchSize` rows, each its own short statement (no lock
 * held across batches, no long transaction), repeats until nothing is left, and is idempotent: run
 * twice, or by two workers at once, it deletes each row once (`for update skip locked`).
 *
 * Who runs them follows the database roles (roles.ts): the ETL's run history is the etl-worker's
 * (`purge-runs`, the ETL role); refresh tokens and mail records are purged by the report-worker's
 * scheduled cleanup (`cleanup-reports`, the reader role, which may delete rows of app, reports and
 * mail and nothing of etl).
 */
import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";

export interface PurgeOptions {
  /** Rows older than this many days go. */
  retentionDays: number;
  /** Rows per statement (default 1000). */
  batchSize?: number;
  /** "Now" (tests). */
  now?: Date;
}

const DAY_MS = 86_400_000;
const cutoffOf = (options: PurgeOptions) =>
  new Date((options.now ?? new Date()).getTime() - options.retentionDays * DAY_MS);

/** Runs `batch(limit)` until it deletes fewer than `limit` rows; the total deleted. */
async function inBatches(limit: number, batch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await batch(limit);
    total += deleted;
    if (deleted < limit) return total;
  }
}

const count = (result: { numAffectedRows?: bigint }) => Number(result.numAffectedRows ?? 0n);

/**
 * Refresh tokens that expired, or were revoked, more than `retentionDays` ago. A deleted token
 * presented again is refused as unknown, as it was refused expired or revoked; the revocations the
 * API replicas load (the last access-token lifetime's) are far younger than any retention.
 */
export async function purgeRefreshTokens(db: Kysely<Database>, options: PurgeOptions): Promise<number> {
  const cutoff = cutoffOf(options);
  return inBatches(options.batchSize ?? 1000, async (limit) =>
    count(
      await sql`
        delete from app.refresh_tokens t using (
          select id from app.refresh_tokens
           where expires_at < ${cutoff} or revoked_at < ${cutoff}
           limit ${limit} for update skip locked) doomed
         where t.id = doomed.id`.execute(db),
    ),
  );
}

/**
 * Finished ETL runs (succeeded or failed) that ended more than `retentionDays` ago, with their
 * per-model rows. Kept however old: runs still queued or running; the latest finished run of each
 * job (`sync`, `sync-records`, `reconcile-deletions`); the latest run that changed data (its end is
 * the synced data's version, which report reuse compares: report-records.ts); the run each model's
 * cursor names (`etl.cursors.last_run_id`) and those the records left out name (`etl.rejected`).
 */
export async function purgeEtlRuns(db: Kysely<Database>, options: PurgeOptions): Promise<number> {
  const cutoff = cutoffOf(options);
  return inBatches(options.batchSize ?? 1000, async (limit) =>
    count(
      await sql`
        delete from etl.runs r using (
          select o.id from etl.runs o
           where o.status in ('succeeded', 'failed') and coalesce(o.finished_at, o.created_at) < ${cutoff}
             and exists (
               select 1 from etl.runs later
                where later.job = o.job and later.status in ('succeeded', 'failed')
                  and (later.finished_at, later.id) > (o.finished_at, o.id))
             and not (
               (o.upserted > 0 or o.deleted > 0)
               and o.finished_at >= (select max(finished_at) from etl.runs where upserted > 0 or deleted > 0))
             and not exists (select 1 from etl.cursors c where c.last_run_id = o.id)
             and not exists (select 1 from etl.rejected j where o.id in (j.first_run_id, j.last_run_id))
           limit ${limit} for update skip locked) doomed
         where r.id = doomed.id`.execute(db),
    ),
  );
}

/**
 * Mailings that finished (done, cancelled or failed) more than `retentionDays` ago, with their
 * outbox rows (messages first, in batches, then the mailings). The suppression list is never
 * purged: an address that bounced or unsubscribed stays suppressed.
 */
export async function purgeMailings(
  db: Kysely<Database>,
  options: PurgeOptions,
): Promise<{ mailings: number; messages: number }> {
  const cutoff = cutoffOf(options);
  const limit = options.batchSize ?? 1000;
  const finished = sql`g.status in ('done', 'cancelled', 'failed')
    and coalesce(g.finished_at, g.cancelled_at, g.created_at) < ${cutoff}`;
  const messages = await inBatches(limit, async (n) =>
    count(
      await sql`
        delete from mail.messages m using (
          select m.id from mail.messages m join mail.mailings g on g.id = m.mailing_id
           where ${finished}
           limit ${n} for update of m skip locked) doomed
         where m.id = doomed.id`.execute(db),
    ),
  );
  const mailings = await inBatches(limit, async (n) =>
    count(
      await sql`
        delete from mail.mailings d using (
          select g.id from mail.mailings g
           where ${finished} and not exists (select 1 from mail.messages m where m.mailing_id = g.id)
           limit ${n} for update skip locked) doomed
         where d.id = doomed.id`.execute(db),
    ),
  );
  return { mailings, messages };
}
