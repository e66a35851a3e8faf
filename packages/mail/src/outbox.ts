import { randomUUID } from "node:crypto";
import {
  CLAIMABLE_STATES,
  type MailingKind,
  type MailingStatus,
  MESSAGE_STATES,
  type MessageState,
} from "@finanzas/contracts";
import { type Database, type Selectable, sql } from "@finanzas/db";
import type { Db } from "@finanzas/ledger";
import { alreadyReminded, type Recipient, recentReminders } from "./recipients.js";

/*
 * The outbox: one row per recipient of a mailing, written before anything is sent, unique per
 * mailing and partner, each with its own Message-ID. A row is claimed atomically
 * (queued/retry → sending) by exactly one mailer right before it goes to the SMTP server; what
 * happened is then written on it. A `sending` row whose mailer died is `unknown`: it may have
 * reached the server, so it is never sent again unless a person asks (resend).
 */

export type MailingRecord = Selectable<Database["mail.mailings"]>;
export type MessageRecord = Selectable<Database["mail.messages"]>;

/** States in which a message still has somewhere to go without a person. */
export const OPEN_STATES = ["queued", "sending", "retry"] as const satisfies readonly MessageState[];

export async function createMailing(
  db: Db,
  m: {
    kind: MailingKind;
    params: Record<string, unknown>;
    asOf: string;
    dryRun?: boolean;
    requestedBy: string | null;
  },
): Promise<MailingRecord> {
  return db
    .insertInto("mail.mailings")
    .values({
      id: randomUUID(),
      kind: m.kind,
      params: JSON.stringify(m.params),
      status: "planning" satisfies MailingStatus,
      dry_run: m.dryRun ?? false,
      as_of: m.asOf,
      requested_by: m.requestedBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export const getMailing = (db: Db, id: string) =>
  db.selectFrom("mail.mailings").selectAll().where("id", "=", id).executeTakeFirst();

export const getMessage = (db: Db, id: string) =>
  db.selectFrom("mail.messages").selectAll().where("id", "=", id).executeTakeFirst();

/**
 * Writes a mailing's outbox: one row per recipient (skipped ones with their reason), ids and
 * Message-IDs made here. A second call for the same mailing (a retried planning) adds nothing
 * (unique per mailing and partner). Returns the rows of the mailing that are queued.
 *
 * The mailing's row is locked first (shared), so a cancel waits for the rows to be written and
 * then cancels them, or is in before them: then the rows are written `cancelled` (the counts show
 * who was not written to), none is queued, and `cancelled` is true.
 *
 * With `reminders`, reminder outboxes are written one at a time (an advisory lock), each looking
 * again at the levels other mailings have queued or sent since its recipients were chosen: two
 * reminder mailings planned at once (the scheduler's and a user's) would otherwise both choose the
 * same customers, and each customer would get the same reminder twice.
 */
export async function writeOutbox(
  db: Db,
  mailingId: string,
  recipients: readonly (Recipient & { reportId?: string | null })[],
  messageIdDomain: string,
  reminders?: { minDays: number },
): Promise<{
  queued: { id: string; report_id: string | null }[];
  skipped: number;
  total: number;
  cancelled: boolean;
}> {
  return db.transaction().execute(async (trx) => {
    const mailing = await trx
      .selectFrom("mail.mailings")
      .select("status")
      .where("id", "=", mailingId)
      .forShare()
      .executeTakeFirst();
    const cancelled = mailing?.status === ("cancelled" satisfies MailingStatus);
    const open: MessageState = cancelled ? "cancelled" : "queued";
    if (reminders) {
      await sql`select pg_advisory_xact_lock(hashtext('finanzas:mail:reminder-outbox'))`.execute(trx);
      const due = recipients.filter((r) => r.level !== null && !r.skipReason);
      const recent = await recentReminders(
        trx,
        mailingId,
        due.map((r) => r.partnerId),
        reminders.minDays,
      );
      recipients = recipients.map((r) => {
        const at = r.level !== null && !r.skipReason ? recent.get(`${r.partnerId}:${r.level}`) : undefined;
        return at ? { ...r, skipReason: alreadyReminded(r.level!, at, reminders.minDays) } : r;
      });
    }
    for (let start = 0; start < recipients.length; start += 500) {
      const batch = recipients.slice(start, start + 500).map((r) => {
        const id = randomUUID();
        return {
          id,
          mailing_id: mailingId,
          partner_id: r.partnerId,
          partner_name: r.partnerName,
          email: r.email,
          lang: r.lang,
          company_id: r.companyId,
          level: r.level,
          template_id: r.templateId,
          context: JSON.stringify(r.context),
          state: r.skipReason ? ("skipped" satisfies MessageState) : open,
          skip_reason: r.skipReason,
          message_id: `${id}@${messageIdDomain}`,
          report_id: r.skipReason ? null : (r.reportId ?? null),
        };
      });
      await trx
        .insertInto("mail.messages")
        .values(batch)
        .onConflict((oc) => oc.columns(["mailing_id", "partner_id"]).doNothing())
        .execute();
    }
    const rows = await trx
      .selectFrom("mail.messages")
      .select(["id", "state", "report_id"])
      .where("mailing_id", "=", mailingId)
      .orderBy("partner_id")
      .execute();
    const queued = rows
      .filter((r) => r.state === "queued")
      .map((r) => ({ id: r.id, report_id: r.report_id }));
    const skipped = rows.filter((r) => r.state === "skipped").length;
    if (cancelled) {
      await trx
        .updateTable("mail.mailings")
        .set({ total: rows.length })
        .where("id", "=", mailingId)
        .execute();
    }
    return { queued, skipped, total: rows.length, cancelled };
  });
}

/**
 * Sets a planned mailing's status and total (sending, or planned for a dry run), when it is still
 * planning. Returns the mailing's status after it (`cancelled` when a cancel came first; `done` when
 * no message has anywhere to go).
 */
export async function markPlanned(
  db: Db,
  mailingId: string,
  status: "sending" | "planned",
  total: number,
  preview: Record<string, unknown> | null,
): Promise<MailingStatus | undefined> {
  await db
    .updateTable("mail.mailings")
    .set({
      status,
      total,
      error: null,
      planned_at: new Date(),
      preview: preview ? JSON.stringify(preview) : null,
    })
    .where("id", "=", mailingId)
    .where("status", "=", "planning")
    .execute();
  await finishIfDone(db, mailingId);
  return (await getMailing(db, mailingId))?.status as MailingStatus | undefined;
}

/**
 * A planning that failed for good: the mailing is `failed`, and the messages it wrote before it
 * failed, which no job will send, are `failed` too, saying why (a person may resend one).
 */
export async function markPlanningFailed(db: Db, mailingId: string, error: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const failed = await trx
      .updateTable("mail.mailings")
      .set({ status: "failed", error, finished_at: new Date() })
      .where("id", "=", mailingId)
      .where("status", "=", "planning")
      .executeTakeFirst();
    if (Number(failed.numUpdatedRows) === 0) return;
    await trx
      .updateTable("mail.messages")
      .set({
        state: "failed",
        last_error: `not sent: the planning of its mailing failed: ${error}`,
        updated_at: sql`now()`,
      })
      .where("mailing_id", "=", mailingId)
      .where("state", "in", [...CLAIMABLE_STATES])
      .execute();
  });
}

/** How a claimed message's send ended, as `settleMany` records it. */
export type Outcome =
  | { state: "sent"; response: string }
  | {
      state: "retry" | "failed" | "unknown";
      error: string;
      response?: string | null;
      /** Not an attempt of the message (the server asked to slow down, nothing was delivered). */
      uncounted?: boolean;
    }
  | { state: "skipped"; reason: string };

/** A message to send with what sending it needs of its mailing. */
export type MessageToSend = MessageRecord & { mailing_kind: MailingKind; mailing_status: MailingStatus };

/** The rows of `ids` (those that still exist), with their mailing's kind and status: one query. */
export async function messagesToSend(db: Db, ids: readonly string[]): Promise<MessageToSend[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<MessageToSend>`select m.*, g.kind as mailing_kind, g.status as mailing_status
    from mail.messages m join mail.mailings g on g.id = m.mailing_id
    where m.id = any(${[...ids]}::uuid[])`.execute(db);
  return rows;
}

/**
 * The rows of `ids` still waiting to be sent (queued or retry) whose mailing is cancelled become
 * `cancelled`. Returns their ids.
 */
export async function cancelOpenOfCancelled(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ id: string }>`update mail.messages m
    set state = 'cancelled', updated_at = now()
    from mail.mailings g
    where g.id = m.mailing_id and g.status = 'cancelled'
      and m.id = any(${[...ids]}::uuid[]) and m.state = any(${[...CLAIMABLE_STATES]}::text[])
    returning m.id`.execute(db);
  return rows.map((r) => r.id);
}

/**
 * Claims rows for sending in one round trip: exactly one caller gets a row, and only from queued or
 * retry, and only while its mailing is not cancelled (each row moves on its own). A row of a
 * cancelled mailing is not claimed: it becomes `cancelled` (the cancel and the claim take the rows
 * in turn: a row claimed before the cancel finishes its send). Returns the attempts, this one
 * included, of the rows claimed.
 */
export async function claimMany(
  db: Db,
  ids: readonly string[],
  instance: string,
): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const { rows } = await sql<{ id: string; attempts: number; state: string }>`update mail.messages m
    set state = case when g.status = 'cancelled' then 'cancelled' else 'sending' end,
      claimed_at = case when g.status = 'cancelled' then m.claimed_at else now() end,
      claimed_by = case when g.status = 'cancelled' then m.claimed_by else ${instance} end,
      attempts = case when g.status = 'cancelled' then m.attempts else m.attempts + 1 end,
      updated_at = now()
    from mail.mailings g
    where g.id = m.mailing_id and m.id = any(${[...ids]}::uuid[])
      and m.state = any(${[...CLAIMABLE_STATES]}::text[])
    returning m.id, m.attempts, m.state`.execute(db);
  return new Map(rows.filter((r) => r.state === "sending").map((r) => [r.id, r.attempts]));
}

/**
 * Records the outcomes of many claimed rows in one round trip: only a row still `sending` by this
 * instance moves, on its own. A temporary failure (`retry`) of a row whose mailing was cancelled
 * while it was at the server ends `cancelled`: it is not tried again. Returns the ids of the rows
 * that moved.
 */
export async function settleMany(
  db: Db,
  instance: string,
  outcomes: readonly { id: string; outcome: Outcome }[],
): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const ids: string[] = [];
  const states: string[] = [];
  const errors: (string | null)[] = [];
  const responses: (string | null)[] = [];
  const uncounted: boolean[] = [];
  for (const { id, outcome } of outcomes) {
    ids.push(id);
    states.push(outcome.state);
    errors.push(
      outcome.state === "skipped" ? outcome.reason : outcome.state === "sent" ? null : outcome.error,
    );
    responses.push(
      outcome.state === "sent"
        ? outcome.response
        : outcome.state === "skipped"
          ? null
          : (outcome.response ?? null),
    );
    uncounted.push("uncounted" in outcome && outcome.uncounted === true);
  }
  const { rows } = await sql<{ id: string }>`update mail.messages m set
      state = case when o.state = 'retry' and g.status = 'cancelled' then 'cancelled' else o.state end,
      updated_at = now(),
      sent_at = case when o.state = 'sent' then now() else m.sent_at end,
      smtp_response = case when o.state = 'skipped' then m.smtp_response else o.response end,
      last_error = case when o.state = 'skipped' then m.last_error else o.error end,
      skip_reason = case when o.state = 'skipped' then o.error else m.skip_reason end,
      attempts = case when o.uncounted then greatest(m.attempts - 1, 0) else m.attempts end
    from unnest(${ids}::uuid[], ${states}::text[], ${errors}::text[], ${responses}::text[],
      ${uncounted}::boolean[]) as o(id, state, error, response, uncounted), mail.mailings g
    where m.id = o.id and g.id = m.mailing_id and m.state = 'sending' and m.claimed_by = ${instance}
    returning m.id`.execute(db);
  return new Set(rows.map((r) => r.id));
}

/** Marks a mailing done once none of its messages has anywhere left to go by itself. */
export async function finishIfDone(db: Db, mailingId: string): Promise<boolean> {
  const done = await sql`update mail.mailings set status = 'done', finished_at = now()
    where id = ${mailingId} and status = 'sending'
      and not exists (select 1 from mail.messages where mailing_id = ${mailingId}
        and state in ('queued', 'sending', 'retry'))`.execute(db);
  return Number(done.numAffectedRows ?? 0) > 0;
}

/**
 * `sending` rows whose mailer is gone (its instance id not in `alive`) or that have been sending
 * longer than `olderThanSeconds` become `unknown`: each may have reached the server. Returns their
 * mailing ids.
 */
export async function recoverStale(
  db: Db,
  alive: readonly string[],
  olderThanSeconds: number,
): Promise<{ id: string; mailing_id: string }[]> {
  const rows = await sql<{ id: string; mailing_id: string }>`update mail.messages
    set state = 'unknown', updated_at = now(),
      last_error = 'the mailer stopped while this message was being sent: it may have reached the server; resend it only after checking it did not'
    where state = 'sending'
      and (claimed_by is null or not (claimed_by = any(${[...alive]}::text[]))
        or claimed_at < now() - make_interval(secs => ${olderThanSeconds}))
    returning id, mailing_id`.execute(db);
  for (const mailingId of new Set(rows.rows.map((r) => r.mailing_id))) await finishIfDone(db, mailingId);
  return rows.rows;
}

/**
 * The deterministic id of the send-message job of a row at its `attempts`: a person's resend and the
 * mailer's recovery enqueue the same row under the same id, so the queue keeps one job of it.
 */
export const sendJobId = (messageId: string, attempts: number) => `${messageId}-send-${attempts}`;

/**
 * Rows waiting to be sent (queued or retry) of sending mailings that nothing has moved for
 * `olderThanSeconds` (neither the row nor its mailing's planning): those a lost enqueue may have
 * left without a job. The caller checks which have none. Oldest first, at most `limit`.
 */
export async function waitingSince(
  db: Db,
  olderThanSeconds: number,
  limit: number,
): Promise<{ id: string; attempts: number }[]> {
  const { rows } = await sql<{ id: string; attempts: number }>`select m.id, m.attempts
    from mail.mailings g join mail.messages m on m.mailing_id = g.id
    where g.status = 'sending'
      and coalesce(g.planned_at, g.created_at) < now() - make_interval(secs => ${olderThanSeconds})
      and m.state = any(${[...CLAIMABLE_STATES]}::text[])
      and m.updated_at < now() - make_interval(secs => ${olderThanSeconds})
    order by m.updated_at, m.id
    limit ${limit}`.execute(db);
  return rows;
}

/** Instances that hold `sending` rows now. */
export async function sendingInstances(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom("mail.messages")
    .select("claimed_by")
    .distinct()
    .where("state", "=", "sending")
    .execute();
  return rows.map((r) => r.claimed_by).filter((c): c is string => c !== null);
}

/** Messages per state of a mailing (every state present, 0 when none). */
export async function countsOf(db: Db, mailingId: string): Promise<Record<MessageState, number>> {
  const rows = await db
    .selectFrom("mail.messages")
    .select(["state", sql<number>`count(*)::integer`.as("n")])
    .where("mailing_id", "=", mailingId)
    .groupBy("state")
    .execute();
  const counts = Object.fromEntries(MESSAGE_STATES.map((s) => [s, 0])) as Record<MessageState, number>;
  for (const r of rows) counts[r.state as MessageState] = r.n;
  return counts;
}

/** A page of a mailing's messages by partner, optionally in one state. */
export async function listMessages(
  db: Db,
  mailingId: string,
  q: { state?: MessageState | undefined; limit: number; afterPartnerId?: number | undefined },
) {
  let query = db
    .selectFrom("mail.messages")
    .selectAll()
    .where("mailing_id", "=", mailingId)
    .orderBy("partner_id")
    .limit(q.limit + 1);
  if (q.state) query = query.where("state", "=", q.state);
  if (q.afterPartnerId !== undefined) query = query.where("partner_id", ">", q.afterPartnerId);
  const rows = await query.execute();
  const items = rows.slice(0, q.limit);
  return { items, next: rows.length > q.limit ? (items.at(-1)?.partner_id ?? null) : null };
}

/**
 * Cancels a mailing: its messages not yet claimed become `cancelled` (a claimed one finishes its
 * send, and is not tried again after a temporary failure: `settleMany`). A planning still under way
 * writes its rows `cancelled` and enqueues nothing (`writeOutbox`, `markPlanned`); a row that gets
 * past all that is never claimed (`claimMany`). Returns how many were cancelled, or null when the
 * mailing does not exist or is over.
 */
export async function cancelMailing(db: Db, mailingId: string): Promise<number | null> {
  return db.transaction().execute(async (trx) => {
    const mailing = await trx
      .updateTable("mail.mailings")
      .set({ status: "cancelled", cancelled_at: new Date(), finished_at: new Date() })
      .where("id", "=", mailingId)
      .where("status", "in", ["planning", "planned", "sending"])
      .returning("id")
      .executeTakeFirst();
    if (!mailing) return null;
    const cancelled = await trx
      .updateTable("mail.messages")
      .set({ state: "cancelled", updated_at: sql`now()` })
      .where("mailing_id", "=", mailingId)
      .where("state", "in", [...CLAIMABLE_STATES])
      .executeTakeFirst();
    return Number(cancelled.numUpdatedRows);
  });
}

/**
 * A person's resend of a failed or unknown message: back to `queued` (its mailing sending again).
 * Returns the row, or undefined when it is in no such state or its mailing was cancelled. The
 * caller enqueues its send (`sendMessageJobId`); should that enqueue be lost, the mailer's
 * recovery enqueues the row again. The mailing's row is locked first, as a cancel locks it: a
 * resend and a cancel of the same mailing take turns.
 */
export async function requeueForResend(db: Db, messageId: string): Promise<MessageRecord | undefined> {
  return db.transaction().execute(async (trx) => {
    const of = await trx
      .selectFrom("mail.messages")
      .select("mailing_id")
      .where("id", "=", messageId)
      .executeTakeFirst();
    if (!of) return undefined;
    const mailing = await trx
      .selectFrom("mail.mailings")
      .select("status")
      .where("id", "=", of.mailing_id)
      .forUpdate()
      .executeTakeFirst();
    if (!mailing || mailing.status === ("cancelled" satisfies MailingStatus)) return undefined;
    const row = await trx
      .updateTable("mail.messages")
      .set({ state: "queued", last_error: null, updated_at: sql`now()`, claimed_by: null })
      .where("id", "=", messageId)
      .where("state", "in", ["failed", "unknown"])
      .returningAll()
      .executeTakeFirst();
    if (row) {
      await trx
        .updateTable("mail.mailings")
        .set({ status: "sending", finished_at: null })
        .where("id", "=", row.mailing_id)
        .where("status", "=", "done")
        .execute();
    }
    return row;
  });
}

/** Messages per state of each of `mailingIds` (every state present, 0 when none), in one query. */
export async function countsByMailing(
  db: Db,
  mailingIds: readonly string[],
): Promise<Map<string, Record<MessageState, number>>> {
  const empty = () => Object.fromEntries(MESSAGE_STATES.map((s) => [s, 0])) as Record<MessageState, number>;
  const counts = new Map(mailingIds.map((id) => [id, empty()]));
  if (mailingIds.length === 0) return counts;
  const rows = await db
    .selectFrom("mail.messages")
    .select(["mailing_id", "state", sql<number>`count(*)::integer`.as("n")])
    .where("mailing_id", "in", [...mailingIds])
    .groupBy(["mailing_id", "state"])
    .execute();
  for (const r of rows) {
    const of = counts.get(r.mailing_id);
    if (of) of[r.state as MessageState] = r.n;
  }
  return counts;
}

/**
 * A page of mailings, newest first, optionally of one kind or status. The keyset is (created_at,
 * id); `createdKey` is created_at to the microsecond, for the next page's `before`.
 */
export async function listMailings(
  db: Db,
  q: {
    limit: number;
    kind?: MailingKind | undefined;
    status?: MailingStatus | undefined;
    before?: { createdKey: string; id: string } | undefined;
  },
): Promise<{ items: (MailingRecord & { createdKey: string })[]; more: boolean }> {
  let query = db
    .selectFrom("mail.mailings")
    .selectAll()
    .select(
      sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as("createdKey"),
    )
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(q.limit + 1);
  if (q.kind) query = query.where("kind", "=", q.kind);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.before) {
    const { createdKey, id } = q.before;
    query = query.where(sql<boolean>`(created_at, id) < (${createdKey}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query.execute();
  return { items: rows.slice(0, q.limit), more: rows.length > q.limit };
}
