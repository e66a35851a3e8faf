import type { MailingKind, mailQueue, PayloadOf, ResultOf } from "@finanzas/contracts";
import { sql } from "@finanzas/db";
import type { Db } from "@finanzas/ledger";
import { firstSyncPending, normalizeReportParams, reportFileName, requestReport } from "@finanzas/ledger";
import {
  getMailing,
  MAILING_SOURCES,
  type MailingRecord,
  markPlanned,
  markPlanningFailed,
  planRecipients,
  renderMessage,
  writeOutbox,
} from "@finanzas/mail";
import type { JobContext } from "@finanzas/queue";
import { RunLater, UnrecoverableError } from "@finanzas/queue";
import type { MessageToQueue, SendQueue } from "../send-queue.js";

export interface PlanSettings {
  reminderMinDays: number;
  defaultLang: string;
  attachStatements: boolean;
  /** The right-hand side of every Message-ID. */
  messageIdDomain: string;
  /** How often a mailing waiting for the first sync of what it reads looks again (default 15 s). */
  firstSyncRecheckMs?: number;
}

export interface PlanDeps {
  db: Db;
  queue: Pick<SendQueue, "send" | "build">;
  settings: PlanSettings;
}

/**
 * A mailing's planning: its recipients from the synced copy, one outbox row each (skipped ones
 * with the reason), the statement report of each message that attaches one, then the queued rows
 * in send-batch jobs (a batch after the builds of its statements). Safe to run again: rows, reports
 * and jobs already there are kept (unique per mailing and partner; a batch's job id is derived from
 * its messages, a build's is its report id).
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
  // Planned during the first sync, a mailing would tell customers amounts from part of the books:
  // it waits, saying why, without using an attempt (a first sync takes longer than the retries).
  const pending = await firstSyncPending(db, MAILING_SOURCES);
  if (pending.length) {
    const reason = `waiting for the first sync of ${pending.join(", ")} to finish (GET /api/v1/sync/state): the mailing is planned once it has`;
    await db
      .updateTable("mail.mailings")
      .set({ error: reason })
      .where("id", "=", mailing.id)
      .where("status", "=", "planning")
      .execute();
    throw new RunLater(settings.firstSyncRecheckMs ?? 15_000, reason);
  }
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
    const outbox = await writeOutbox(
      db,
      mailing.id,
      recipients,
      settings.messageIdDomain,
      kind === "reminder" ? { minDays: settings.reminderMinDays } : undefined,
    );
    if (outbox.cancelled) {
      ctx.logger.info(
        { recipients: outbox.total, skipped: outbox.skipped },
        "mailing cancelled while it was planned: its messages are written cancelled, none is sent",
      );
      return { mailingId: mailing.id, queued: 0, skipped: outbox.skipped };
    }
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
    const toQueue = attach
      ? await requestStatements(deps, mailing, params.companyId, outbox.queued)
      : outbox.queued.map((m) => ({ id: m.id }));
    // `sending` before the jobs go to the queue: should the enqueue be lost for good, the mailer's
    // recovery enqueues the queued rows of a sending mailing again. A mailing cancelled by now
    // had its rows cancelled with it: nothing is enqueued.
    const status = await markPlanned(db, mailing.id, "sending", outbox.total, preview);
    if (status === "cancelled") {
      ctx.logger.info("mailing cancelled while it was planned: nothing is enqueued");
      return { mailingId: mailing.id, queued: 0, skipped: outbox.skipped };
    }
    await deps.queue.send(toQueue);
    return { mailingId: mailing.id, queued: outbox.queued.length, skipped: outbox.skipped };
  } catch (error) {
    if (ctx.attempt >= ctx.maxAttempts || error instanceof UnrecoverableError) {
      await markPlanningFailed(db, mailing.id, error instanceof Error ? error.message : String(error));
    }
    throw error;
  }
}

/**
 * The statement each queued message attaches: a partner-statement report requested as the API
 * requests one (`requestReport`, so an identical statement already built from the same data is
 * reused at once, and an identical one being built is waited for). Returns the messages to queue,
 * each naming the report whose build it waits for when that build is enqueued with it. Reports a
 * retried planning finds still queued get their build job again (by its id: never twice).
 */
async function requestStatements(
  deps: PlanDeps,
  mailing: MailingRecord,
  companyId: number | undefined,
  queued: readonly { id: string; report_id: string | null }[],
): Promise<MessageToQueue[]> {
  const { db } = deps;
  const without = new Set(queued.filter((m) => !m.report_id).map((m) => m.id));
  const partners = without.size
    ? await db
        .selectFrom("mail.messages")
        .select(["id", "partner_id"])
        .where("mailing_id", "=", mailing.id)
        .where("report_id", "is", null)
        .execute()
    : [];
  const requested = new Map<string, { reportId: string; build: boolean }>();
  const todo = partners.filter((p) => without.has(p.id));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(4, todo.length) }, async () => {
      for (let message = todo[next++]; message; message = todo[next++]) {
        const params = normalizeReportParams(
          "partner-statement",
          {
            partnerId: message.partner_id,
            ...(companyId !== undefined ? { companyId } : {}),
            asOf: mailing.as_of,
          },
          mailing.as_of,
        );
        const { report, created } = await requestReport(db, {
          kind: "partner-statement",
          params,
          requestedBy: mailing.requested_by,
          fileName: reportFileName("partner-statement", params, mailing.as_of),
        });
        requested.set(message.id, { reportId: report.id, build: created });
      }
    }),
  );
  if (requested.size) {
    const ids = [...requested.keys()];
    await sql`update mail.messages m set report_id = r.report_id
      from unnest(${ids}::uuid[], ${ids.map((id) => requested.get(id)!.reportId)}::uuid[]) as r(id, report_id)
      where m.id = r.id`.execute(db);
  }
  // reports of an earlier run of this planning (or another request's) not built yet
  const earlier = queued.filter((m) => m.report_id).map((m) => m.report_id!);
  if (earlier.length) {
    const waiting = await db
      .selectFrom("reports.reports")
      .select("id")
      .where("id", "in", [...new Set(earlier)])
      .where("status", "=", "queued")
      .execute();
    await deps.queue.build(waiting.map((r) => r.id));
  }
  return queued.map((m) => {
    const now = requested.get(m.id);
    return { id: m.id, ...(now?.build ? { buildReport: now.reportId } : {}) };
  });
}
