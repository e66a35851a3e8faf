/**
 * Riding out a lost PostgreSQL connection (a restart, a failover, a terminated backend): wait until
 * the server answers again, then carry on. What was in flight rolled back; the caller decides what
 * to do again (a model resumes from its committed cursor, a run's bookkeeping is written again).
 */
import { type Database, isConnectionError, type Kysely, sql } from "@finanzas/db";
import { sleep } from "../sleep.js";

/** Times a model's work resumes after losing PostgreSQL within one run, before it fails the run. */
export const DATABASE_RESUMES = 5;
/** How long to wait for PostgreSQL to answer again before giving up (ms). */
export const DATABASE_WAIT_MS = 120_000;

/** Resolves true once PostgreSQL answers, false when `timeoutMs` passed or `signal` aborted. */
export async function databaseAnswers(
  db: Kysely<Database>,
  signal: AbortSignal,
  timeoutMs = DATABASE_WAIT_MS,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    try {
      await sql`select 1`.execute(db);
      return true;
    } catch {
      await sleep(500, signal).catch(() => undefined);
    }
  }
  return false;
}

/**
 * Runs an idempotent statement (a run's or a model's outcome written down), again once PostgreSQL
 * answers when its connection was lost, up to DATABASE_RESUMES times; other errors are thrown.
 */
export async function idempotentWrite<T>(
  db: Kysely<Database>,
  signal: AbortSignal,
  write: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt > DATABASE_RESUMES || !isConnectionError(error) || !(await databaseAnswers(db, signal)))
        throw error;
    }
  }
}
