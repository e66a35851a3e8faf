import type { mailQueue, PayloadOf, ResultOf } from "@finanzas/contracts";
import { type Db, today } from "@finanzas/ledger";
import { createMailing } from "@finanzas/mail";
import type { JobContext } from "@finanzas/queue";

/** The scheduler's daily reminders: a reminder mailing over every customer with overdue items, planned next. */
export async function runReminders(
  deps: { db: Db; plan(mailingId: string): Promise<void> },
  _payload: PayloadOf<typeof mailQueue, "run-reminders">,
  ctx: JobContext,
): Promise<ResultOf<typeof mailQueue, "run-reminders">> {
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
