import type { MessageState, mailQueue, PayloadOf, ResultOf } from "@finanzas/contracts";
import type { Db } from "@finanzas/ledger";
import {
  claim,
  finishIfDone,
  getMessage,
  renderMessage,
  settle,
  suppress,
  suppressedAmong,
  unsubscribeUrl,
} from "@finanzas/mail";
import { type JobContext, QueuePaused, RunLater } from "@finanzas/queue";
import type { AttachmentSource } from "../attachments.js";
import type { MailTransport } from "../transport.js";

export interface SendSettings {
  /** The sender of a company's messages. */
  fromFor(companyId: number | null): string;
  replyTo?: string | undefined;
  /** Unsubscribe links (reminders and custom mailings) when both are set. */
  publicUrl: string;
  unsubscribeSecret?: string | undefined;
  /** How long the queue pauses after a 421 or 454. */
  throttlePauseMs: number;
  /** How long a message whose statement is still being built waits before it looks again. */
  attachmentWaitMs: number;
}

export interface SendDeps {
  db: Db;
  transport: MailTransport;
  attachments: AttachmentSource;
  /** This process's id in the outbox's claimed_by. */
  instance: string;
  settings: SendSettings;
}

type Result = ResultOf<typeof mailQueue, "send-message">;

/**
 * Sends one outbox row. Everything that can be prepared is prepared first (suppression, the
 * attachment read from storage, the render); then the row is claimed (exactly one mailer gets it,
 * only from queued or retry), handed to the SMTP pool, and its outcome written on it: sent, retry
 * (a temporary failure: the job is retried with backoff; the last attempt makes it failed),
 * failed (permanent; an address error suppresses the address) or unknown.
 */
export async function sendMessage(
  deps: SendDeps,
  payload: PayloadOf<typeof mailQueue, "send-message">,
  ctx: JobContext,
): Promise<Result> {
  const { db, settings, instance } = deps;
  const id = payload.messageId;
  const result = (state: string): Result => ({ messageId: id, state: state as MessageState });
  const row = await getMessage(db, id);
  if (!row) return result("cancelled");
  if (row.state !== "queued" && row.state !== "retry") return result(row.state);
  const mailing = await db
    .selectFrom("mail.mailings")
    .select(["kind", "status"])
    .where("id", "=", row.mailing_id)
    .executeTakeFirstOrThrow();

  // a settled row ends here; `claimAndSettle` is for outcomes decided before sending
  const claimAndSettle = async (
    outcome: Parameters<typeof settle>[3] & { state: "skipped" | "failed" },
  ): Promise<Result> => {
    if (!(await claim(db, id, instance))) return result((await getMessage(db, id))?.state ?? "cancelled");
    await settle(db, id, instance, outcome);
    await finishIfDone(db, row.mailing_id);
    return result(outcome.state);
  };

  const email = row.email;
  if (!email) return claimAndSettle({ state: "skipped", reason: "no email address" });
  const suppressed = await suppressedAmong(db, [email]);
  if (suppressed.size) {
    return claimAndSettle({
      state: "skipped",
      reason: `address suppressed (${[...suppressed.values()][0]})`,
    });
  }

  const attachments = [];
  if (row.report_id) {
    const loaded = await deps.attachments.load(row.report_id);
    if (loaded.state === "pending")
      throw new RunLater(settings.attachmentWaitMs, "its statement is being built");
    if (loaded.state === "failed") return claimAndSettle({ state: "failed", error: loaded.error });
    attachments.push(loaded.attachment);
  }

  const withUnsubscribe = mailing.kind !== "statement" && settings.unsubscribeSecret !== undefined;
  const unsubscribe = withUnsubscribe
    ? unsubscribeUrl(settings.publicUrl, settings.unsubscribeSecret!, { email, messageId: id })
    : null;
  let rendered: Awaited<ReturnType<typeof renderMessage>>;
  try {
    rendered = await renderMessage(db, row, { unsubscribe_url: unsubscribe });
  } catch (error) {
    return claimAndSettle({ state: "failed", error: `render: ${(error as Error).message}` });
  }

  const claimed = await claim(db, id, instance);
  if (!claimed) return result((await getMessage(db, id))?.state ?? "cancelled");

  const outcome = await deps.transport.send({
    from: settings.fromFor(row.company_id),
    to: email,
    replyTo: settings.replyTo,
    subject: rendered.subject,
    html: rendered.html,
    text: rendered.text,
    messageId: row.message_id,
    unsubscribeUrl: unsubscribe ?? undefined,
    attachments,
  });

  switch (outcome.kind) {
    case "sent":
      await settle(db, id, instance, { state: "sent", response: outcome.response });
      await finishIfDone(db, row.mailing_id);
      return result("sent");
    case "unknown":
      ctx.logger.warn({ messageId: id, error: outcome.error }, "message outcome unknown: not sent again");
      await settle(db, id, instance, { state: "unknown", error: outcome.error });
      await finishIfDone(db, row.mailing_id);
      return result("unknown");
    case "permanent":
      await settle(db, id, instance, { state: "failed", error: outcome.error, response: outcome.response });
      if (outcome.addressError) {
        await suppress(db, email, "bounced", outcome.response ?? outcome.error, id);
      }
      await finishIfDone(db, row.mailing_id);
      return result("failed");
    case "temporary": {
      if (outcome.throttle) {
        // the server asked to slow down: nothing was delivered, the whole queue pauses
        await settle(db, id, instance, { state: "retry", error: outcome.error, response: outcome.response });
        throw new QueuePaused(settings.throttlePauseMs, outcome.response ?? outcome.error);
      }
      if (ctx.attempt >= ctx.maxAttempts) {
        await settle(db, id, instance, {
          state: "failed",
          error: `gave up after ${ctx.attempt} attempts: ${outcome.error}`,
          response: outcome.response,
        });
        await finishIfDone(db, row.mailing_id);
        return result("failed");
      }
      await settle(db, id, instance, { state: "retry", error: outcome.error, response: outcome.response });
      throw new Error(`temporary SMTP failure, retried later: ${outcome.error}`);
    }
  }
}
