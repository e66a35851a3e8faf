/**
 * Per-user caps on work that runs for a while (REPORT_MAX_ACTIVE_PER_USER, MAIL_MAX_ACTIVE_PER_USER):
 * the count and the insert that follows it must not interleave with another request of the same
 * user, or each of several requests at once sees room for one more.
 */
import { sql, type Transaction } from "kysely";
import type { Database } from "./database.js";

/** Tables of user-requested work with a per-user cap, and the name of each one's per-user lock. */
const LOCKS = { "reports.reports": "report-active", "mail.mailings": "mail-active" } as const;
export type CappedWorkTable = keyof typeof LOCKS;

/**
 * Inside `trx`: takes the user's lock for `table` (held until the transaction ends) and counts the
 * user's rows in one of `statuses`. A caller that inserts only while this is below its cap, in the
 * same transaction, holds the cap under concurrent requests: the next request of that user counts
 * after this one's row is committed. Take it before any other advisory lock of the transaction.
 */
export async function countActiveUnderUserLock(
  trx: Transaction<Database>,
  table: CappedWorkTable,
  userId: string,
  statuses: readonly string[],
): Promise<number> {
  await sql`select pg_advisory_xact_lock(hashtext(${`${LOCKS[table]}:${userId}`}))`.execute(trx);
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}
    where requested_by = ${userId} and status::text = any(${[...statuses]}::text[])`.execute(trx);
  return rows[0]?.n ?? 0;
}
