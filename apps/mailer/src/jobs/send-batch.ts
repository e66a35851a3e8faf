import {
  CLAIMABLE_STATES,
  MESSAGE_STATES,
  type MessageState,
  type mailQueue,
  type PayloadOf,
  type ResultOf,
} from "@finanzas/contracts";
import type { Db } from "@finanzas/ledger";
import {
  cancelOpenOfCancelled,
  finishIfDone,
  type MessageToSend,
  messagesToSend,
  type Outcome,
  type Rendered,
  renderMessage,
  suppress,
  suppressedAmong,
  templatesById,
  unsubscribeUrl,
} from "@finanzas/mail";
import { type JobContext, QueuePaused, RunLater } from "@finanzas/queue";
import type { Attachment, AttachmentSource } from "../attachments.js";
import type { OutboxWriter } from "../outbox-writer.js";
import type { RateLimiter } from "../rate-limit.js";
import type { MailConnection, MailTransport, SendOutcome } from "../transport.js";

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
  /** Sends of one message before a temporary failure is final. */
  maxAttempts: number;
  /** Messages per second across every replica. */
  rate: RateLimiter;
  /** Claims and outcomes, written together with those of the other messages in flight. */
  outbox: OutboxWriter;
}

type Result = ResultOf<typeof mailQueue, "send-batch">;

const claimable = (state: string) => (CLAIMABLE_STATES as readonly string[]).includes(state);

/**
 * Sends a batch of outbox rows. What every message needs is looked up once for the batch (the
 * rows, their templates, the suppressed addresses among them, their statements' records); then
 * as many messages as the pool has connections go at once, each through the same steps as a
 * message alone: prepared (suppression, render, its attachment read from storage, composed), a
 * token taken from the rate limit, claimed (exactly one mailer gets it, only from queued or
 * retry), handed to the SMTP server, and its outcome written on it: sent, retry (a temporary
 * failure: the job runs again with backoff and sends the rows left `retry`; a message out of
 * attempts is failed), failed (permanent; an address error suppresses the address) or unknown.
 *
 * A 421 or 454 pauses every replica's sends at once and returns the job to the queue; a message
 * whose statement is still being built makes the job run again later; a service that stops
 * finishes the messages in flight and returns the job, whose unsent rows are still queued.
 */
export async function sendBatch(
  deps: SendDeps,
  payload: PayloadOf<typeof mailQueue, "send-batch">,
  ctx: JobContext,
): Promise<Result> {
  const { db, settings } = deps;
  const states = Object.fromEntries(MESSAGE_STATES.map((s) => [s, 0])) as Record<MessageState, number>;
  const rows = await messagesToSend(db, payload.messageIds);
  states.cancelled += payload.messageIds.length - rows.length; // gone with their mailing
  // rows of a mailing cancelled since they were queued are cancelled here, without a look at them
  const ofCancelled = new Set(
    await cancelOpenOfCancelled(
      db,
      rows.filter((r) => claimable(r.state) && r.mailing_status === "cancelled").map((r) => r.id),
    ),
  );
  const todo: MessageToSend[] = [];
  for (const row of rows) {
    if (ofCancelled.has(row.id)) states.cancelled++;
    else if (claimable(row.state)) todo.push(row);
    else states[row.state as MessageState]++;
  }
  const result = (): Result => ({ messages: payload.messageIds.length, states });
  if (todo.length === 0) return result();

  const present = <T>(values: (T | null)[]) => values.filter((v): v is T => v !== null);
  const [templates, suppressed, reports] = await Promise.all([
    templatesById(db, present(todo.map((r) => r.template_id))),
    suppressedAmong(db, present(todo.map((r) => r.email))),
    deps.attachments.lookup(present(todo.map((r) => r.report_id))),
  ]);

  let throttled: string | undefined;
  let firstTemporary: string | undefined;
  /** Rows recorded `retry` after a temporary failure (not a throttle): the job runs again for them. */
  const retried: string[] = [];
  let deferred = 0;
  /** Rows left as they were because the batch halted (the service stopping, or a 421). */
  let untouched = 0;
  /** Rows another mailer (or a cancellation) took between the look-up and the claim. */
  const lost: string[] = [];
  const writes: Promise<unknown>[] = [];
  const mailings = new Set<string>();
  const halted = () => throttled !== undefined || ctx.stopping.aborted;
  const leave = (row: MessageToSend): undefined => {
    untouched++;
    states[row.state as MessageState]++;
    return undefined;
  };

  const record = (row: MessageToSend, outcome: Outcome) => {
    mailings.add(row.mailing_id);
    states[outcome.state]++;
    writes.push(deps.outbox.settle(row.id, outcome));
  };

  /** An outcome decided before sending: the row is claimed (exactly one mailer decides), then it is recorded. */
  const decide = async (row: MessageToSend, outcome: Outcome & { state: "skipped" | "failed" }) => {
    const attempts = await deps.outbox.claim(row.id);
    if (attempts === null) lost.push(row.id);
    else record(row, outcome);
  };

  const sent = (row: MessageToSend, email: string, attempts: number, outcome: SendOutcome) => {
    switch (outcome.kind) {
      case "sent":
        return record(row, { state: "sent", response: outcome.response });
      case "unknown":
        ctx.logger.warn(
          { messageId: row.id, error: outcome.error },
          "message outcome unknown: not sent again",
        );
        return record(row, { state: "unknown", error: outcome.error });
      case "permanent":
        record(row, { state: "failed", error: outcome.error, response: outcome.response });
        if (outcome.addressError) {
          writes.push(suppress(db, email, "bounced", outcome.response ?? outcome.error, row.id));
        }
        return;
      case "temporary":
        if (outcome.throttle) {
          // the server asked to slow down: nothing was delivered, every replica pauses
          throttled ??= outcome.response ?? outcome.error;
          writes.push(deps.rate.pause(settings.throttlePauseMs));
          return record(row, {
            state: "retry",
            error: outcome.error,
            response: outcome.response,
            uncounted: true,
          });
        }
        if (attempts >= deps.maxAttempts || ctx.attempt >= ctx.maxAttempts) {
          return record(row, {
            state: "failed",
            error: `gave up after ${attempts} attempts: ${outcome.error}`,
            response: outcome.response,
          });
        }
        retried.push(row.id);
        firstTemporary ??= outcome.error;
        return record(row, { state: "retry", error: outcome.error, response: outcome.response });
    }
  };

  /** One message, from its checks to its outcome; returns without claiming it when the batch halts. */
  const one = async (row: MessageToSend): Promise<void> => {
    const email = row.email;
    if (!email) return decide(row, { state: "skipped", reason: "no email address" });
    const suppression = suppressed.get(email.toLowerCase());
    if (suppression) return decide(row, { state: "skipped", reason: `address suppressed (${suppression})` });
    if (row.report_id) {
      const report = reports.state(row.report_id);
      if (report === "pending") {
        deferred++;
        states[row.state as MessageState]++;
        return;
      }
      if (report !== "ready") return decide(row, { state: "failed", error: report.failed });
    }
    const withUnsubscribe = row.mailing_kind !== "statement" && settings.unsubscribeSecret !== undefined;
    const unsubscribe = withUnsubscribe
      ? unsubscribeUrl(settings.publicUrl, settings.unsubscribeSecret!, { email, messageId: row.id })
      : null;
    let rendered: Rendered;
    try {
      const template = row.template_id ? templates.get(row.template_id) : undefined;
      if (!template) throw new Error("the message's template was deleted");
      rendered = await renderMessage(db, row, { unsubscribe_url: unsubscribe }, template);
    } catch (error) {
      return decide(row, { state: "failed", error: `render: ${(error as Error).message}` });
    }

    // a connection of the pool first (shared with the other batches of the process): once
    // claimed, the message goes to the server at once
    let connection: MailConnection;
    try {
      connection = await deps.transport.connection(ctx.stopping);
    } catch (error) {
      if (!ctx.stopping.aborted) throw error;
      leave(row); // stopping: left as it is, for the next run
      return;
    }
    let failed: string | undefined;
    try {
      failed = await onConnection(row, email, rendered, unsubscribe, connection);
    } finally {
      connection.release();
    }
    // decided before anything was sent: recorded once the connection is free for another message
    if (failed !== undefined) await decide(row, { state: "failed", error: failed });
  };

  /** A prepared message on its connection; returns why it cannot be sent, when it cannot. */
  const onConnection = async (
    row: MessageToSend,
    email: string,
    rendered: Rendered,
    unsubscribe: string | null,
    connection: MailConnection,
  ): Promise<string | undefined> => {
    if (halted()) return leave(row);
    const attachments: Attachment[] = [];
    if (row.report_id) {
      const file = await reports.read(row.report_id);
      if ("failed" in file) return file.failed;
      attachments.push(file);
    }
    const from = settings.fromFor(row.company_id);
    let raw: Buffer;
    try {
      raw = deps.transport.compose({
        from,
        to: email,
        replyTo: settings.replyTo,
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        messageId: row.message_id,
        unsubscribeUrl: unsubscribe ?? undefined,
        attachments,
      });
    } catch (error) {
      return `the message could not be composed: ${(error as Error).message}`;
    }
    try {
      await deps.rate.take(ctx.stopping);
    } catch (error) {
      if (!ctx.stopping.aborted) throw error;
      return leave(row);
    }
    if (halted()) return leave(row);
    const attempts = await deps.outbox.claim(row.id);
    if (attempts === null) {
      lost.push(row.id);
      return;
    }
    sent(row, email, attempts, await connection.send(raw, { from, to: email }));
  };

  // as many messages of the batch at once as there are connections (shared by every batch of
  // the process, so several batches interleave on the same connections)
  let next = 0;
  const lanes = Array.from({ length: Math.min(deps.transport.connections, todo.length) }, async () => {
    for (let row = todo[next++]; row; row = todo[next++]) await one(row);
  });
  const ran = await Promise.allSettled(lanes);
  const written = await Promise.allSettled(writes);
  const error = [...ran, ...written].find((r) => r.status === "rejected");
  if (error) throw (error as PromiseRejectedResult).reason;

  // a retry whose mailing was cancelled meanwhile was recorded cancelled: no run again for it
  let temporary = retried.length;
  if (retried.length > 0) {
    for (const row of await messagesToSend(db, retried)) {
      if (row.state !== "cancelled") continue;
      temporary--;
      states.retry--;
      states.cancelled++;
    }
  }
  if (lost.length > 0) {
    const now = await messagesToSend(db, lost);
    for (const row of now) states[row.state as MessageState]++;
    states.cancelled += lost.length - now.length;
  }
  for (const mailingId of mailings) await finishIfDone(db, mailingId);

  if (throttled !== undefined) throw new QueuePaused(settings.throttlePauseMs, throttled);
  if (untouched > 0) {
    throw new RunLater(0, "the service is stopping: the messages not sent yet go back to the queue");
  }
  if (temporary > 0) {
    throw new Error(`${temporary} message(s) failed temporarily, retried later: ${firstTemporary}`);
  }
  if (deferred > 0) {
    throw new RunLater(settings.attachmentWaitMs, `${deferred} statement(s) still being built`);
  }
  return result();
}
