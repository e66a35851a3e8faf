import { CompiledQuery, type Database, sql, type Transaction } from "@finanzas/db";
import type { RawBuilder } from "kysely";
import type { Db } from "./sql.js";

export interface SnapshotOptions {
  /** How long one statement may run (ms); PostgreSQL then cancels it (SQLSTATE 57014). */
  statementTimeoutMs: number;
}

/**
 * Runs `read` in one read-only repeatable-read transaction: every query in it sees the same
 * snapshot, even while a sync commits (an aging report's parts, a general ledger's balances and
 * its lines), and each statement is bounded by a timeout set for this transaction only
 * (`set_config(…, true)`, safe behind a transaction-mode pooler such as Supabase's). A statement
 * that runs away (a lock held by a migration, a plan gone wrong) is stopped by PostgreSQL rather
 * than holding its connection for as long as it takes.
 */
export function inSnapshot<T>(
  db: Db,
  options: SnapshotOptions,
  read: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .setAccessMode("read only")
    .execute(async (trx) => {
      await sql`select set_config('statement_timeout', ${String(options.statementTimeoutMs)}, true)`.execute(
        trx,
      );
      return read(trx);
    });
}

let cursors = 0;

/**
 * The rows of a query in batches through a server-side cursor (`DECLARE … NO SCROLL CURSOR`,
 * `FETCH n`): memory holds two batches (the one being used and the next), whatever the size of the
 * result. The next batch is asked for as soon as one arrives, so PostgreSQL produces it while the
 * caller uses this one rather than each waiting for the other. Runs inside a transaction (a cursor
 * lives as long as its transaction; see inSnapshot), so it works behind a transaction-mode
 * pooler; a query the caller makes on the same transaction meanwhile runs after that fetch.
 * Stopping the iteration early closes the cursor.
 */
export async function* cursorBatches<T>(
  trx: Transaction<Database>,
  query: RawBuilder<T>,
  batchSize = 2_000,
): AsyncGenerator<T[]> {
  cursors = (cursors + 1) % 1_000_000;
  const name = `ledger_cursor_${cursors}`;
  const compiled = query.compile(trx);
  await trx.executeQuery(
    CompiledQuery.raw(`declare ${name} no scroll cursor for ${compiled.sql}`, [...compiled.parameters]),
  );
  const fetch = (): Promise<T[]> => {
    const rows = trx
      .executeQuery<T>(CompiledQuery.raw(`fetch ${batchSize} from ${name}`))
      .then((result) => result.rows);
    // The read-ahead may fail (a connection lost) while the caller is still on the batch before,
    // with no one awaiting it yet: marked handled here so that is not an unhandled rejection (which
    // ends the process); the loop below still awaits it and throws its error.
    rows.catch(() => undefined);
    return rows;
  };
  let next: Promise<T[]> | undefined = fetch();
  try {
    while (next) {
      const rows: T[] = await next;
      // a short batch is the last one: nothing more to read ahead
      next = rows.length < batchSize ? undefined : fetch();
      if (rows.length > 0) yield rows;
    }
  } finally {
    // the read-ahead settles before the cursor closes (its failure, if any, is the caller's no more)
    await next?.catch(() => undefined);
    await trx.executeQuery(CompiledQuery.raw(`close ${name}`)).catch(() => undefined);
  }
}
