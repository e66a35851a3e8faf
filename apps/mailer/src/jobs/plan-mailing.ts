import {
  type MailingKind,
  type mailQueue,
  type PayloadOf,
  type ResultOf,
  reportsQueue,
} from "@finanzas/contracts";
import type { Db } from "@finanzas/ledger";
import { requestReport } from "@finanzas/ledger";
import {
  getMailing,
  markPlanned,
  markPlanningFailed,
  planRecipients,
  renderMessage,
  writeOutbox,
} from "@finanzas/mail";
import type { JobContext } from "@finanzas/queue";
import { UnrecoverableError } from "@finanzas/queue";

export interface PlanSettings {
  reminderMinDays: number;
  defaultLang: string;
  attachStatements: boolean;
  /** The right-hand side of every Message-ID. */
  messageIdDomain: string;
}

/** How a planned message is put on the queue: alone, or after the build of its statement. */
export interface SendQueue {
  send(messageIds: readonly string[]): Promise<void>;
  sendAfterReport(messageId: string, reportId: string): Promise<void>;
}

export interface PlanDeps {
  db: Db;
  queue: SendQueue;
  settings: PlanSettings;
}

/**
 * A mailing's planning: its recipients from the synced copy, one outbox row each (skipped ones
 * with the reason), the statement report of each message that attaches one, then a send-message
 * job per queued row (after its report's build when there is one). Safe to run again: rows,
 * reports and jobs already there are kept (unique per mailing and partner; job id = message id).
 */
export async function planMailing(
  deps: PlanDeps,
  payload: PayloadOf<typeof mailQueue, "plan-mailing">,
  ctx: JobContext,
): Promise<ResultOf<typeof mailQueue, "plan-mailing">> {
  const { db, settings } = deps;
  const mailing = await getMailing(db, payload.mailingId);
  if (!mailing) throw new UnrecoverableError(`no mailing with id ${payload.mailingId}`);
  if (!["planning", "sending"].includes(mailing.status)) {
    return { mailingId: mailing.id, queued: 0, skipped: 0 };
  }
  const params = mailing.params as {
    companyId?: number;
    partnerIds?: number[];
    templateId?: string;
    testRecipient?: string;
  };
  const kind = mailing.kind as MailingKind;
  try {
    const recipients = await planRecipients(
      db,
      {
        id: mailing.id,
        kind,
        asOf: mailing.as_of,
        companyId: params.companyId,
        partnerIds: params.partnerIds,
        templateId: params.templateId,
        testRecipient: params.testRecipient,
      },
      { reminderMinDays: settings.reminderMinDays, defaultLang: settings.defaultLang },
    );
    const outbox = await writeOutbox(db, mailing.id, recipients, settings.messageIdDomain);
    ctx.logger.info(
      { recipients: outbox.total, queued: outbox.queued.length, skipped: outbox.skipped },
      "mailing planned",
    );

    let preview: Record<string, unknown> | null = null;
    const first = outbox.queued[0];
    if (first) {
      const row = await db
        .selectFrom("mail.messages")
        .selectAll()
        .where("id", "=", first.id)
        .executeTakeFirstOrThrow();
      const rendered = await renderMessage(db, row, { unsubscribe_url: null });
      preview = { partnerId: row.partner_id, to: row.email, ...rendered };
    }
    if (mailing.dry_run) {
      await markPlanned(db, mailing.id, "planned", outbox.total, preview);
      return { mailingId: mailing.id, queued: outbox.queued.length, skipped: outbox.skipped };
    }

    const attach = settings.attachStatements && (kind === "statement" || kind === "reminder");
    const alone: string[] = [];
    for (const message of outbox.queued) {
      if (!attach) {
        alone.push(message.id);
        continue;
      }
      let reportId = message.report_id;
      let build = false;
      if (!reportId) {
        const row = await db
          .selectFrom("mail.messages")
          .select(["partner_id", "company_id"])
          .where("id", "=", message.id)
          .executeTakeFirstOrThrow();
        const requested = await requestReport(db, {
          kind: "partner-statement",
          params: {
            partnerId: row.partner_id,
            ...(params.companyId !== undefined ? { companyId: params.companyId } : {}),
            asOf: mailing.as_of,
          },
          requestedBy: mailing.requested_by,
          fileName: `statement-${row.partner_id}-${mailing.as_of}.xlsx`,
        });
        reportId = requested.report.id;
        build = requested.created;
        await db
          .updateTable("mail.messages")
          .set({ report_id: reportId })
          .where("id", "=", message.id)
          .execute();
      }
      // a report another request is already building is waited for by the message itself
      if (build) await deps.queue.sendAfterReport(message.id, reportId);
      else alone.push(message.id);
    }
    await deps.queue.send(alone);
    await markPlanned(db, mailing.id, "sending", outbox.total, preview);
    return { mailingId: mailing.id, queued: outbox.queued.length, skipped: outbox.skipped };
  } catch (error) {
    if (ctx.attempt >= ctx.maxAttempts || error instanceof UnrecoverableError) {
      await markPlanningFailed(db, mailing.id, error instanceof Error ? error.message : String(error));
    }
    throw error;
  }
}

/** The child job of a message that attaches a statement. */
export const reportChild = (reportId: string) => ({
  definition: reportsQueue,
  name: "build-report" as const,
  payload: { reportId },
  jobId: reportId,
});
