/**
 * One sync per model at a time, across every replica: a lease row per model in `etl.locks`,
 * taken when free or expired, renewed while the model syncs (and checked inside every batch's
 * transaction, so a worker that lost its lease cannot commit), deleted when done. Rows and
 * transaction-scoped statements only: nothing depends on a session, so it works behind a
 * transaction-mode pooler (where session advisory locks would not). A request for a model that is
 * being synced waits for it and then runs.
 */

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import { sleep } from "../sleep.js";
import type { Lease } from "./load.js";

export const ownerId = (): string => `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/** Takes the lease on `model` if it is free or expired; null when another owner holds it. */
export async function tryAcquire(
  db: Kysely<Database>,
  model: string,
  owner: string,
  runId: number,
  ttlSeconds: number,
): Promise<Lease | null> {
  return db.transaction().execute(async (trx) => {
    const current = await sql<{ owner: string; run_id: number | null; expired: boolean }>`
      select owner, run_id, expires_at < now() as expired from etl.locks where model = ${model} for update`.execute(
      trx,
    );
    const row = current.rows[0];
    if (row && !row.expired) return null;
    if (row) {
      // The previous holder stopped renewing (killed or stuck): its run of this model ends failed.
      if (row.run_id !== null) {
        await sql`update etl.run_models set status = 'failed', finished_at = now(),
            error = coalesce(error, 'worker lost (its lease on the model expired)')
          where run_id = ${row.run_id} and model = ${model} and status in ('queued', 'running')`.execute(trx);
        await sql`update etl.runs set status = 'failed', finished_at = now(),
            error = coalesce(error, 'worker lost before the run ended')
          where id = ${row.run_id} and status in ('queued', 'running')`.execute(trx);
      }
      await sql`update etl.locks set owner = ${owner}, run_id = ${runId}, acquired_at = now(),
          expires_at = now() + make_interval(secs => ${ttlSeconds}) where model = ${model}`.execute(trx);
      return { model, owner, ttlSeconds };
    }
    const inserted = await sql`insert into etl.locks (model, owner, run_id, acquired_at, expires_at)
        values (${model}, ${owner}, ${runId}, now(), now() + make_interval(secs => ${ttlSeconds}))
        on conflict (model) do nothing`.execute(trx);
    return Number(inserted.numAffectedRows ?? 0) === 1 ? { model, owner, ttlSeconds } : null;
  });
}

/** Waits until the lease on `model` is ours (polling), or the signal aborts. */
export async function acquire(
  db: Kysely<Database>,
  model: string,
  runId: number,
  ttlSeconds: number,
  signal: AbortSignal | undefined,
  onWait?: (holder: string) => void,
): Promise<Lease> {
  const owner = ownerId();
  let warned = false;
  for (;;) {
    const lease = await tryAcquire(db, model, owner, runId, ttlSeconds);
    if (lease) return lease;
    if (!warned && onWait) {
      warned = true;
      const { rows } = await sql<{
        owner: string;
      }>`select owner from etl.locks where model = ${model}`.execute(db);
      onWait(rows[0]?.owner ?? "?");
    }
    await sleep(500 + Math.random() * 500, signal);
  }
}

/** Renews the lease every ttl/3 until stopped; calls `onLost` if it is no longer ours. */
export function keepAlive(db: Kysely<Database>, lease: Lease, onLost: (error: Error) => void): () => void {
  const timer = setInterval(
    () => {
      sql`update etl.locks set expires_at = now() + make_interval(secs => ${lease.ttlSeconds})
          where model = ${lease.model} and owner = ${lease.owner}`
        .execute(db)
        .then((r) => {
          if (Number(r.numAffectedRows ?? 0) !== 1) onLost(new Error(`lost the lock on ${lease.model}`));
        })
        .catch(() => {}); // a failed renewal is retried at the next tick; the batch check is authoritative
    },
    Math.max(1000, (lease.ttlSeconds * 1000) / 3),
  );
  timer.unref();
  return () => clearInterval(timer);
}

export async function release(db: Kysely<Database>, lease: Lease): Promise<void> {
  await sql`delete from etl.locks where model = ${lease.model} and owner = ${lease.owner}`.execute(db);
}
