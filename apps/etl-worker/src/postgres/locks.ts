/**
 * One sync per model at a time, across every replica: a lease row per model in `etl.locks`,
 * taken when free or expired, renewed by a heartbeat while the model syncs (and checked inside every
 * batch's transaction, so a worker that lost its lease cannot commit), deleted when done. Rows and
 * transaction-scoped statements only: nothing depends on a session, so it works behind a
 * transaction-mode pooler (where session advisory locks would not). A request for a model that is
 * being synced waits for it and then runs.
 *
 * A worker that dies holds its leases until they expire (ETL_LOCK_TTL_SECONDS after its last
 * heartbeat), unless its death is known: a holder on this host, in this pid namespace, whose process
 * is gone (or whose pid now belongs to a process started later) is taken over at once. Either way its
 * batches can no longer commit: the takeover waits for any batch in flight (see load.ts, `checkLease`).
 */

import { randomUUID } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import { sleep } from "../sleep.js";
import type { Lease } from "./load.js";

/** The pid namespace of this process (Linux), so pids are only compared within one. */
function pidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1];
  } catch {
    return undefined;
  }
}

/** When a process started, in clock ticks since boot (Linux); undefined when it does not exist. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces) start at the third; the start time is the 22nd.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const NAMESPACE = pidNamespace();

/**
 * A lock owner: `host:pid:random`, and on Linux `;ns=<pid namespace>;start=<start ticks>`, which
 * let a later process on the same host tell whether the holder still runs.
 */
export const ownerId = (): string => {
  const base = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const start = startTicks(process.pid);
  return NAMESPACE && start ? `${base};ns=${NAMESPACE};start=${start}` : base;
};

/**
 * True only when the holder is known dead: it ran on this host, in this pid namespace, and its
 * process is gone or its pid belongs to a process started at another time. Anything else (another
 * host, another namespace, an owner without the tags) is not known, and waits for the lease to expire.
 */
export function holderIsDead(owner: string): boolean {
  const m = /^(.*):(\d+):[^:;]+;ns=(\d+);start=(\d+)$/.exec(owner);
  if (!m || m[1] !== hostname() || m[3] !== NAMESPACE) return false;
  const pid = Number(m[2]);
  if (pid === process.pid) return false; // this process: alive
  const start = startTicks(pid);
  return start === undefined || start !== m[4];
}

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
    const dead = row !== undefined && !row.expired && holderIsDead(row.owner);
    if (row && !row.expired && !dead) return null;
    if (row) {
      // The previous holder stopped renewing (killed or stuck) or its process is gone: its run of
      // this model ends failed.
      const why = dead ? "its process is gone" : "its lease on the model expired";
      if (row.run_id !== null) {
        await sql`update etl.run_models set status = 'failed', finished_at = now(),
            error = coalesce(error, ${`worker lost (${why})`})
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

/**
 * The heartbeat: renews the lease every fifth of its time (at least every 3 s) until stopped, so it
 * can be short and a dead holder's models come free soon; calls `onLost` if it is no longer ours.
 */
export function keepAlive(db: Kysely<Database>, lease: Lease, onLost: (error: Error) => void): () => void {
  // A renewal still in flight when the heartbeat stops may come back after the lease was released
  // on purpose (a model resuming after a lost connection gives its lease back and takes a new one):
  // its "0 rows" is not a loss then, and must not abort the model's next attempt.
  let stopped = false;
  const timer = setInterval(
    () => {
      sql`update etl.locks set expires_at = now() + make_interval(secs => ${lease.ttlSeconds})
          where model = ${lease.model} and owner = ${lease.owner}`
        .execute(db)
        .then((r) => {
          if (!stopped && Number(r.numAffectedRows ?? 0) !== 1)
            onLost(new Error(`lost the lock on ${lease.model}`));
        })
        .catch(() => {}); // a failed renewal is retried at the next tick; the batch check is authoritative
    },
    Math.max(500, Math.min(3000, (lease.ttlSeconds * 1000) / 5)),
  );
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export async function release(db: Kysely<Database>, lease: Lease): Promise<void> {
  await sql`delete from etl.locks where model = ${lease.model} and owner = ${lease.owner}`.execute(db);
}
