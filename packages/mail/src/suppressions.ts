import type { SuppressionReason } from "@finanzas/contracts";
import type { Db } from "@finanzas/ledger";

/*
 * Addresses never written to again: hard bounces (a permanent SMTP address error), one-click
 * unsubscribes, and those a person adds. Stored lower-cased; matched case-insensitively.
 */

/** Which of `emails` are suppressed, lower-cased, with the reason. */
export async function suppressedAmong(db: Db, emails: readonly string[]): Promise<Map<string, string>> {
  const lower = [...new Set(emails.map((e) => e.toLowerCase()))];
  if (lower.length === 0) return new Map();
  const found = await db
    .selectFrom("mail.suppressions")
    .select(["email", "reason"])
    .where("email", "in", lower)
    .execute();
  return new Map(found.map((r) => [r.email, r.reason]));
}

/** Adds an address (kept as first recorded when already there). Returns whether it was added now. */
export async function suppress(
  db: Db,
  email: string,
  reason: SuppressionReason,
  detail: string | null = null,
  messageId: string | null = null,
): Promise<boolean> {
  const added = await db
    .insertInto("mail.suppressions")
    .values({ email: email.toLowerCase(), reason, detail, message_id: messageId })
    .onConflict((oc) => oc.column("email").doNothing())
    .returning("email")
    .execute();
  return added.length > 0;
}

export async function unsuppress(db: Db, email: string): Promise<boolean> {
  const removed = await db
    .deleteFrom("mail.suppressions")
    .where("email", "=", email.toLowerCase())
    .executeTakeFirst();
  return Number(removed.numDeletedRows) > 0;
}

export async function listSuppressions(db: Db, page: { limit: number; after?: string | undefined }) {
  let query = db
    .selectFrom("mail.suppressions")
    .selectAll()
    .orderBy("email")
    .limit(page.limit + 1);
  if (page.after) query = query.where("email", ">", page.after);
  const rows = await query.execute();
  const more = rows.length > page.limit;
  const items = rows.slice(0, page.limit);
  return { items, next: more ? (items.at(-1)?.email ?? null) : null };
}

/** The suppression of an address (matched case-insensitively), if it is on the list. */
export const getSuppression = (db: Db, email: string) =>
  db.selectFrom("mail.suppressions").selectAll().where("email", "=", email.toLowerCase()).executeTakeFirst();
