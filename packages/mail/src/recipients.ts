import type { MailingKind } from "@finanzas/contracts";
import { sql } from "@finanzas/db";
import { companyList, type Db, type OpenItem, openItemList, REPORT_SOURCES } from "@finanzas/ledger";
import { addDecimals, signOf } from "./decimal.js";
import { languageOf } from "./format.js";
import { suppressedAmong } from "./suppressions.js";

/*
 * Who a mailing goes to, and what each message says: from the finance queries (the open items of
 * `openItemList`, the same figures as the aging and the statement), one recipient per partner with
 * everything its template renders, or the reason it is skipped.
 */

/**
 * The Odoo models a mailing's recipients and amounts come from (the open items, the partners and
 * their companies): the same as a statement's. Planned before their first sync has finished, a
 * mailing would tell customers amounts from part of the books.
 */
export const MAILING_SOURCES: readonly string[] = REPORT_SOURCES["partner-statement"];

export interface MailingToPlan {
  id: string;
  kind: MailingKind;
  asOf: string;
  companyId?: number | undefined;
  partnerIds?: readonly number[] | undefined;
  /** custom: the template chosen (its key's variant in the partner's language is used). */
  templateId?: string | undefined;
  /** A test send: every message goes here. */
  testRecipient?: string | undefined;
}

export interface PlanOptions {
  /** A customer is not sent the same reminder level again within this many days. */
  reminderMinDays: number;
  /** The template language when a partner's has no variant (es, en). */
  defaultLang: string;
}

export interface Recipient {
  partnerId: number;
  partnerName: string | null;
  email: string | null;
  lang: string | null;
  companyId: number | null;
  level: number | null;
  templateId: string | null;
  context: Record<string, unknown>;
  /** Set when the message must not be sent, with why. */
  skipReason: string | null;
}

interface PartnerRow {
  id: number;
  name: string | null;
  ref: string | null;
  vat: string | null;
  email: string | null;
  lang: string | null;
  company_id: number | null;
  deleted: boolean;
  commercial_id: number | null;
  commercial_name: string | null;
  commercial_email: string | null;
}

const ADDRESS = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\]+$/;

/** The first usable address of an Odoo email field ("a@x.com, b@y.com" → a@x.com), or null. */
export function usableAddress(field: string | null | undefined): string | null {
  if (!field) return null;
  for (const part of field.split(/[,;\s]+/)) {
    const address = part.replace(/^.*<([^>]*)>.*$/, "$1").trim();
    if (ADDRESS.test(address)) return address;
  }
  return null;
}

interface Level {
  level: number;
  days: number;
  template_key: string;
}

/**
 * The reminder levels each of `partnerIds` was sent (or has waiting to go) by another real reminder
 * mailing within `minDays`: `partner:level` → the day. A partner is not sent the same level again.
 */
export async function recentReminders(
  db: Db,
  mailingId: string,
  partnerIds: readonly number[],
  minDays: number,
): Promise<Map<string, string>> {
  const recent = new Map<string, string>();
  if (partnerIds.length === 0) return recent;
  const rows = await db
    .selectFrom("mail.messages as m")
    .innerJoin("mail.mailings as g", "g.id", "m.mailing_id")
    .select([
      "m.partner_id",
      "m.level",
      sql<string>`max(coalesce(m.sent_at, m.created_at))::date::text`.as("at"),
    ])
    .where("g.kind", "=", "reminder")
    .where("g.dry_run", "=", false)
    .where("g.id", "<>", mailingId)
    .where("m.partner_id", "in", [...partnerIds])
    .where("m.level", "is not", null)
    .where("m.state", "in", ["queued", "sending", "sent", "retry", "unknown"])
    .where(sql<boolean>`coalesce(m.sent_at, m.created_at) > now() - make_interval(days => ${minDays})`)
    .groupBy(["m.partner_id", "m.level"])
    .execute();
  for (const r of rows) recent.set(`${r.partner_id}:${r.level}`, r.at);
  return recent;
}

/** Why a reminder is skipped when its level already went to the partner lately. */
export const alreadyReminded = (level: number, at: string, minDays: number): string =>
  `reminder level ${level} already sent on ${at} (within ${minDays} days)`;

/** The follow-up level of a customer whose oldest overdue item is `days` past due: the highest level it reached. */
export function levelFor(levels: readonly Level[], days: number): Level | null {
  let found: Level | null = null;
  for (const level of [...levels].sort((a, b) => a.days - b.days)) if (days >= level.days) found = level;
  return found;
}

const itemView = (i: OpenItem, companyName: string | null) => ({
  id: i.id,
  document: i.document,
  reference: i.reference,
  date: i.date,
  due_date: i.dueDate,
  days_overdue: i.daysOverdue,
  open_amount: i.openAmount,
  original_amount: i.originalAmount,
  currency: i.companyCurrency,
  company: companyName,
  company_id: i.companyId,
});

export async function planRecipients(
  db: Db,
  mailing: MailingToPlan,
  options: PlanOptions,
): Promise<Recipient[]> {
  const companies = await companyList(db, mailing.companyId);
  const companyById = new Map(companies.map((c) => [c.id, c]));
  const items = await openItemList(db, {
    kind: "receivable",
    asOf: mailing.asOf,
    companyId: mailing.companyId,
    partnerIds: mailing.partnerIds,
  });
  const byPartner = new Map<number, OpenItem[]>();
  for (const item of items) {
    if (item.partnerId === null || !companyById.has(item.companyId)) continue;
    const list = byPartner.get(item.partnerId);
    if (list) list.push(item);
    else byPartner.set(item.partnerId, [item]);
  }
  // Past due as the aging and the dashboard count it: every open item due before asOf, credit notes
  // and unmatched payments included (they lower what is overdue, as in Odoo's follow-ups); these
  // are the reminder's listed items, so its table adds up to its "overdue" total.
  const pastDueOf = (list: readonly OpenItem[]) => list.filter((i) => i.daysOverdue > 0);
  // What a reminder is about: past-due debts (its level is the oldest one's).
  const overdueOf = (list: readonly OpenItem[]) => pastDueOf(list).filter((i) => signOf(i.openAmount) > 0);
  /** Companies in which the partner's past-due items add up to a debt. */
  const owingIn = (list: readonly OpenItem[]) =>
    [...new Set(list.map((i) => i.companyId))].filter(
      (c) =>
        signOf(addDecimals(pastDueOf(list.filter((i) => i.companyId === c)).map((i) => i.openAmount))) > 0,
    );

  let partnerIds: number[];
  if (mailing.partnerIds) partnerIds = [...mailing.partnerIds];
  else if (mailing.kind === "reminder")
    partnerIds = [...byPartner].filter(([, l]) => overdueOf(l).length > 0).map(([id]) => id);
  // owing something in at least one company (each company's figures are in its own currency)
  else
    partnerIds = [...byPartner]
      .filter(([, l]) =>
        [...new Set(l.map((i) => i.companyId))].some(
          (c) => signOf(addDecimals(l.filter((i) => i.companyId === c).map((i) => i.openAmount))) > 0,
        ),
      )
      .map(([id]) => id);
  partnerIds.sort((a, b) => a - b);
  if (partnerIds.length === 0) return [];

  const partners = new Map(
    (
      await sql<PartnerRow>`select p.id, p.name, p.ref, p.vat, p.email, p.lang, p.company_id,
          p._deleted_at is not null as deleted,
          c.id as commercial_id, c.name as commercial_name, c.email as commercial_email
        from odoo.res_partner p
        left join odoo.res_partner c on c.id = p.commercial_partner_id and c.id <> p.id and c._deleted_at is null
        where p.id = any(${partnerIds}::integer[])`.execute(db)
    ).rows.map((p) => [p.id, p]),
  );

  // templates: every variant of the keys this mailing may use
  let chosen: { id: string; key: string; lang: string; kind: string } | undefined;
  if (mailing.kind === "custom") {
    chosen = await db
      .selectFrom("mail.templates")
      .select(["id", "key", "lang", "kind"])
      .where("id", "=", mailing.templateId ?? "00000000-0000-0000-0000-000000000000")
      .executeTakeFirst();
    if (!chosen) throw new Error(`no template with id ${mailing.templateId}`);
  }
  // a reminder template sent as a custom mailing renders the partner's level too
  const withLevel = mailing.kind === "reminder" || chosen?.kind === "reminder";
  const levels = withLevel
    ? await db.selectFrom("mail.reminder_levels").selectAll().orderBy("days").execute()
    : [];
  const keys =
    mailing.kind === "statement"
      ? ["statement"]
      : mailing.kind === "reminder"
        ? levels.map((l) => l.template_key)
        : [chosen!.key];
  const variants = keys.length
    ? await db.selectFrom("mail.templates").select(["id", "key", "lang"]).where("key", "in", keys).execute()
    : [];
  const templateFor = (key: string, lang: string | null): string | null => {
    const of = variants.filter((v) => v.key === key);
    const want = languageOf(lang);
    return (
      of.find((v) => v.lang === want)?.id ??
      (chosen && chosen.key === key ? chosen.id : undefined) ??
      of.find((v) => v.lang === options.defaultLang)?.id ??
      of[0]?.id ??
      null
    );
  };

  // reminder levels sent lately, per partner
  const recent =
    mailing.kind === "reminder"
      ? await recentReminders(db, mailing.id, partnerIds, options.reminderMinDays)
      : new Map<string, string>();

  const addresses = partnerIds.map((id) => {
    const p = partners.get(id);
    return mailing.testRecipient ?? usableAddress(p?.email) ?? usableAddress(p?.commercial_email);
  });
  const suppressed = await suppressedAmong(
    db,
    addresses.filter((a): a is string => a !== null),
  );

  return partnerIds.map((partnerId, index) => {
    const p = partners.get(partnerId);
    const list = byPartner.get(partnerId) ?? [];
    const overdue = overdueOf(list);
    const email = addresses[index] ?? null;
    const itemCompanies = [...new Set(list.map((i) => i.companyId))];
    const company =
      companyById.get(mailing.companyId ?? -1) ??
      companyById.get(itemCompanies[0] ?? -1) ??
      companyById.get(p?.company_id ?? -1) ??
      companies[0] ??
      null;
    const oldest = overdue.reduce((max, i) => Math.max(max, i.daysOverdue), 0);
    const level = withLevel ? levelFor(levels, oldest) : null;
    const key =
      mailing.kind === "statement"
        ? "statement"
        : mailing.kind === "reminder"
          ? level?.template_key
          : chosen!.key;
    // a test send is of the very template chosen, whatever the partner's language
    const templateId = key
      ? mailing.testRecipient && chosen
        ? chosen.id
        : templateFor(key, p?.lang ?? null)
      : null;
    const totals = itemCompanies.map((cid) => {
      const c = companyById.get(cid)!;
      const mine = list.filter((i) => i.companyId === cid);
      return {
        company_id: cid,
        company: c.name,
        currency: c.currency,
        open: addDecimals(mine.map((i) => i.openAmount)),
        overdue: addDecimals(pastDueOf(mine).map((i) => i.openAmount)),
        count: mine.length,
      };
    });
    const context = {
      partner: {
        id: partnerId,
        name: p?.name ?? null,
        ref: p?.ref ?? null,
        vat: p?.vat ?? null,
        email,
        lang: p?.lang ?? null,
      },
      company: company ? { id: company.id, name: company.name, currency: company.currency } : null,
      as_of: mailing.asOf,
      items: list.map((i) => itemView(i, companyById.get(i.companyId)?.name ?? null)),
      overdue_items: pastDueOf(list).map((i) => itemView(i, companyById.get(i.companyId)?.name ?? null)),
      totals,
      level: level ? { level: level.level, days: level.days, oldest_days_overdue: oldest } : null,
    };
    let skipReason: string | null = null;
    if (!p || p.deleted) skipReason = "partner not found in the synced copy";
    else if (!email)
      skipReason = p.email
        ? `no usable email address (${JSON.stringify(p.email)})`
        : "no email address (neither the partner nor its commercial partner has one)";
    else if (suppressed.has(email.toLowerCase()))
      skipReason = `address suppressed (${suppressed.get(email.toLowerCase())})`;
    else if (mailing.kind === "reminder" && overdue.length === 0) skipReason = "no overdue items";
    else if (mailing.kind === "reminder" && owingIn(list).length === 0)
      skipReason =
        "its overdue invoices are covered by credit notes or payments: nothing is overdue on balance";
    else if (mailing.kind === "reminder" && !level)
      skipReason = `oldest overdue item is ${oldest} days past due, below the first follow-up level`;
    else if (level && recent.has(`${partnerId}:${level.level}`))
      skipReason = alreadyReminded(
        level.level,
        recent.get(`${partnerId}:${level.level}`)!,
        options.reminderMinDays,
      );
    else if (!templateId) skipReason = `no template with key ${JSON.stringify(key)}`;
    return {
      partnerId,
      partnerName: p?.name ?? null,
      email,
      lang: p?.lang ?? null,
      companyId: company?.id ?? null,
      level: level?.level ?? null,
      templateId,
      context,
      skipReason,
    };
  });
}
