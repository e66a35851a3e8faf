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
import type { Recipient } from "./recipients.js";

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
 */
export async function writeOutbox(
  db: Db,
  mailingId: string,
  recipients: readonly (Recipient & { reportId?: string | null })[],
  messageIdDomain: string,
): Promise<{ queued: { id: string; report_id: string | null }[]; skipped: number; total: number }> {
  return db.transaction().execute(async (trx) => {
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
          state: (r.skipReason ? "skipped" : "queued") satisfies MessageState,
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
    return { queued, skipped, total: rows.length };
  });
}

/** Sets a planned mailing's status and total (sending, or planned for a dry run). */
export async function markPlanned(
  db: Db,
  mailingId: string,
  status: "sending" | "planned",
  total: number,
  preview: Record<string, unknown> | null,
): Promise<void> {
  await db
    .updateTable("mail.mailings")
    .set({
      status,
      total,
      planned_at: new Date(),
      preview: preview ? JSON.stringify(preview) : null,
    })
    .where("id", "=", mailingId)
    .where("status", "=", "planning")
    .execute();
  await finishIfDone(db, mailingId);
}

export async function markPlanningFailed(db: Db, mailingId: string, error: string): Promise<void> {
  await db
    .updateTable("mail.mailings")
    .set({ status: "failed", error, finished_at: new Date() })
    .where("id", "=", mailingId)
    .where("status", "=", "planning")
    .execute();
}

/**
 * Claims a message for sending: exactly one caller gets the row, and only from queued or retry.
 * Returns undefined when it was not claimable (sent, being sent by another mailer, cancelled…).
 */
export async function claim(db: Db, id: string, instance: string): Promise<MessageRecord | undefined> {
  return db
    .updateTable("mail.messages")
    .set({
      state: "sending",
      claimed_at: sql`now()`,
      claimed_by: instance,
      attempts: sql`attempts + 1`,
      updated_at: sql`now()`,
    })
    .where("id", "=", id)
    .where("state", "in", [...CLAIMABLE_STATES])
    .returningAll()
    .executeTakeFirst();
}

/** Records how a claimed message's send ended; only a row still `sending` by this instance moves. */
export async function settle(
  db: Db,
  id: string,
  instance: string,
  outcome:
    | { state: "sent"; response: string }
    | { state: "retry" | "failed" | "unknown"; error: string; response?: string | null }
    | { state: "skipped"; reason: string }
    | { state: "queued" },
): Promise<boolean> {
  const updated = await db
    .updateTable("mail.messages")
    .set({
      state: outcome.state,
      updated_at: sql`now()`,
      ...(outcome.state === "sent"
        ? { sent_at: sql`now()`, smtp_response: outcome.response, last_error: null }
        : {}),
      ...(outcome.state === "retry" || outcome.state === "failed" || outcome.state === "unknown"
        ? { last_error: outcome.error, smtp_response: outcome.response ?? null }
        : {}),
      ...(outcome.state === "skipped" ? { skip_reason: outcome.reason } : {}),
      ...(outcome.state === "queued" ? { attempts: sql`greatest(attempts - 1, 0)` } : {}),
    })
    .where("id", "=", id)
    .where("state", "=", "sending")
    .where("claimed_by", "=", instance)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
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
 * send). Returns how many were cancelled, or null when the mailing does not exist or is over.
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
 * Returns the row, or undefined when it is in no such state. The caller enqueues its send.
 */
export async function requeueForResend(db: Db, messageId: string): Promise<MessageRecord | undefined> {
  return db.transaction().execute(async (trx) => {
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
