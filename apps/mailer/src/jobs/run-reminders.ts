import type { mailQueue, PayloadOf, ResultOf } from "@finanzas/contracts";
import { type Db, today } from "@finanzas/ledger";
import { cancelMailing, createMailing } from "@finanzas/mail";
import type { JobContext } from "@finanzas/queue";

/**
 * The scheduler's daily reminders: a reminder mailing over every customer with overdue items, planned
 * next. An earlier day's scheduled reminders still `planning` (waiting for the first sync, or a
 * planning retried for days) are cancelled first, nothing of theirs sent: today's replace them, as
 * of today. Left alone, they would all be planned at once when the wait ends, and a customer could
 * get the same reminder from each.
 */
export async function runReminders(
  deps: { db: Db; plan(mailingId: string): Promise<void> },
  _payload: PayloadOf<typeof mailQueue, "run-reminders">,
  ctx: JobContext,
): Promise<ResultOf<typeof mailQueue, "run-reminders">> {
  const earlier = await deps.db
    .selectFrom("mail.mailings")
    .select(["id", "as_of", "error"])
    .where("kind", "=", "reminder")
    .where("requested_by", "is", null)
    .where("status", "=", "planning")
    .execute();
  for (const old of earlier) {
    if ((await cancelMailing(deps.db, old.id)) === null) continue; // planned in the meantime
    ctx.logger.warn(
      { mailingId: old.id, asOf: old.as_of, error: old.error },
      "earlier scheduled reminders never got past planning: cancelled, today's replace them",
    );
  }
  const mailing = await createMailing(deps.db, {
    kind: "reminder",
    params: {},
    asOf: today(),
    requestedBy: null,
  });
  await deps.plan(mailing.id);
  ctx.logger.info({ mailingId: mailing.id }, "reminder mailing started");
  return { mailingId: mailing.id };
}
