import type {
  AccountQuery,
  AgingQuery,
  AgingReport,
  Dashboard,
  DashboardQuery,
  InvoiceQuery,
  JournalItemQuery,
  PartnerQuery,
  PaymentQuery,
} from "@finanzas/contracts";
import { DEFAULT_PAGE_SIZE } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import type { RawBuilder } from "kysely";
import { HttpProblem } from "../problem.js";
import { INVOICE_SEARCH, PARTNER_SEARCH, searchTextOf } from "./indexes.js";
import { and, keyset } from "./keyset.js";

/*
 * Finance reads over the synced copy of Odoo (schema `odoo`, written by etl-worker). Every table in
 * every query is filtered on `_deleted_at is null`: a record deleted in Odoo never shows. Money
 * columns are numeric and arrive as exact decimal strings (see @finanzas/db's type parsers); sums
 * are computed in PostgreSQL, never in JavaScript floats. Every value from a request is a bound
 * parameter.
 */

type Db = Kysely<Database>;

/** Plain decimal text: numeric's text form without trailing fractional zeros beyond the scale the data has. */
const money = (expr: RawBuilder<unknown>) => sql`(${expr})::text`;
const sum0 = (expr: RawBuilder<unknown>) => sql`coalesce(sum(${expr}), 0)::text`;

const today = (): string => new Date().toISOString().slice(0, 10);

/** Text search input: letters, digits and a few separators (the schema already enforces it); no wildcards. */
const like = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The searched fields as one text, the same expression as the trigram indexes' (see indexes.ts). */
const INVOICE_SEARCH_TEXT = sql.raw(`(${searchTextOf(INVOICE_SEARCH, "m")})`);
const PARTNER_SEARCH_TEXT = sql.raw(`(${searchTextOf(PARTNER_SEARCH, "p")})`);

async function rows<T>(db: Db, query: RawBuilder<T>): Promise<T[]> {
  return (await query.execute(db)).rows;
}

// ── partners ──────────────────────────────────────────────────────────────────────────────────

const PARTNER_SORTS = {
  name: { expr: sql`coalesce(p.name, '')`, type: "text" as const },
  id: { expr: sql`p.id`, type: "integer" as const },
};

const partnerColumns = sql`p.id, p.name, p.ref, p.vat, p.email, p.is_company as "isCompany",
  p.parent_id as "parentId", p.company_id as "companyId", p.country_id as "countryId", p.active`;

export async function listPartners(db: Db, q: Static<typeof PartnerQuery>) {
  const sort = q.sort ?? "name";
  const ks = keyset(sort, PARTNER_SORTS, sql`p.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const where = [sql`p._deleted_at is null`, ks.after];
  if (q.q) {
    const pattern = like(q.q);
    where.push(sql`${PARTNER_SEARCH_TEXT} ilike ${pattern}`);
  }
  if (q.kind === "customer") where.push(sql`p.customer_rank > 0`);
  if (q.kind === "vendor") where.push(sql`p.supplier_rank > 0`);
  if (q.companyId !== undefined) where.push(sql`(p.company_id = ${q.companyId} or p.company_id is null)`);
  if (q.active !== undefined) where.push(sql`coalesce(p.active, true) = ${q.active}`);
  const found = await rows(
    db,
    sql<{
      id: number;
      _k: string | number;
    }>`select ${partnerColumns}, ${PARTNER_SORTS[sort.replace("-", "") as "name"].expr} as "_k"
      from odoo.res_partner p where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found as never[]);
}

export async function getPartner(db: Db, id: number) {
  const [partner] = await rows(
    db,
    sql<
      Record<string, unknown>
    >`select ${partnerColumns} from odoo.res_partner p where p.id = ${id} and p._deleted_at is null`,
  );
  if (!partner) throw new HttpProblem(404, `no partner with id ${id}`);
  const balances = await rows(
    db,
    sql<{ companyId: number; currency: string; receivable: string; payable: string }>`
      select l.company_id as "companyId", cur.name as currency,
        ${sum0(sql`case when a.account_type = 'asset_receivable' then l.amount_residual end`)} as receivable,
        ${sum0(sql`case when a.account_type = 'liability_payable' then -l.amount_residual end`)} as payable
      from odoo.account_move_line l
      join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
      join odoo.res_company co on co.id = l.company_id and co._deleted_at is null
      left join odoo.res_currency cur on cur.id = co.currency_id and cur._deleted_at is null
      where l._deleted_at is null and l.partner_id = ${id} and l.parent_state = 'posted'
        and a.account_type in ('asset_receivable', 'liability_payable')
      group by l.company_id, cur.name order by l.company_id`,
  );
  return { ...partner, balances } as never;
}

// ── invoices ──────────────────────────────────────────────────────────────────────────────────

const INVOICE_TYPES = ["out_invoice", "out_refund", "in_invoice", "in_refund", "out_receipt", "in_receipt"];
const SALE_TYPES = ["out_invoice", "out_refund", "out_receipt"];
const PURCHASE_TYPES = ["in_invoice", "in_refund", "in_receipt"];

const INVOICE_SORTS = {
  date: { expr: sql`coalesce(m.date, '0001-01-01'::date)`, type: "date" as const },
  dueDate: { expr: sql`coalesce(m.invoice_date_due, m.date, '0001-01-01'::date)`, type: "date" as const },
  amountTotal: { expr: sql`coalesce(m.amount_total, 0)`, type: "numeric" as const },
  name: { expr: sql`coalesce(m.name, '')`, type: "text" as const },
};

const invoiceColumns = sql`m.id, m.name, m.move_type as "moveType", m.state, m.payment_state as "paymentState",
  m.date, m.invoice_date as "invoiceDate", m.invoice_date_due as "invoiceDateDue", m.ref,
  m.partner_id as "partnerId", p.name as "partnerName", m.journal_id as "journalId",
  m.company_id as "companyId", cur.name as currency,
  ${money(sql`m.amount_untaxed`)} as "amountUntaxed", ${money(sql`m.amount_tax`)} as "amountTax",
  ${money(sql`m.amount_total`)} as "amountTotal", ${money(sql`m.amount_residual`)} as "amountResidual"`;

const invoiceFrom = sql`odoo.account_move m
  left join odoo.res_partner p on p.id = m.partner_id and p._deleted_at is null
  left join odoo.res_currency cur on cur.id = m.currency_id and cur._deleted_at is null`;

/** Posted, with something left to pay, and due before today. */
const overdueCondition = (asOf: string) =>
  sql`(m.state = 'posted' and m.amount_residual <> 0 and m.payment_state in ('not_paid', 'partial') and m.invoice_date_due < ${asOf}::date)`;

export async function listInvoices(db: Db, q: InvoiceQuery) {
  const sort = q.sort ?? "-date";
  const key = sort.replace("-", "") as keyof typeof INVOICE_SORTS;
  const ks = keyset(sort, INVOICE_SORTS, sql`m.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const types = q.type
    ? [q.type]
    : q.direction === "sale"
      ? SALE_TYPES
      : q.direction === "purchase"
        ? PURCHASE_TYPES
        : INVOICE_TYPES;
  const where = [sql`m._deleted_at is null`, sql`m.move_type = any(${types}::text[])`, ks.after];
  if (q.state) where.push(sql`m.state = ${q.state}`);
  if (q.paymentState) where.push(sql`m.payment_state = ${q.paymentState}`);
  if (q.partnerId !== undefined) where.push(sql`m.partner_id = ${q.partnerId}`);
  if (q.companyId !== undefined) where.push(sql`m.company_id = ${q.companyId}`);
  if (q.currency) where.push(sql`cur.name = ${q.currency}`);
  if (q.invoiceDateFrom) where.push(sql`m.invoice_date >= ${q.invoiceDateFrom}::date`);
  if (q.invoiceDateTo) where.push(sql`m.invoice_date <= ${q.invoiceDateTo}::date`);
  if (q.dueDateFrom) where.push(sql`m.invoice_date_due >= ${q.dueDateFrom}::date`);
  if (q.dueDateTo) where.push(sql`m.invoice_date_due <= ${q.dueDateTo}::date`);
  if (q.overdue === true) where.push(overdueCondition(today()));
  if (q.overdue === false) where.push(sql`not coalesce(${overdueCondition(today())}, false)`);
  if (q.q) {
    const pattern = like(q.q);
    where.push(sql`${INVOICE_SEARCH_TEXT} ilike ${pattern}`);
  }
  const found = await rows(
    db,
    sql<{ id: number; _k: string }>`select ${invoiceColumns}, ${INVOICE_SORTS[key].expr}${
      INVOICE_SORTS[key].type === "numeric" || INVOICE_SORTS[key].type === "date" ? sql`::text` : sql``
    } as "_k" from ${invoiceFrom} where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found as never[]);
}

export async function getInvoice(db: Db, id: number) {
  const [invoice] = await rows(
    db,
    sql<Record<string, unknown>>`select ${invoiceColumns}, ccur.name as "companyCurrency"
      from ${invoiceFrom}
      left join odoo.res_company co on co.id = m.company_id and co._deleted_at is null
      left join odoo.res_currency ccur on ccur.id = co.currency_id and ccur._deleted_at is null
      where m.id = ${id} and m._deleted_at is null and m.move_type = any(${INVOICE_TYPES}::text[])`,
  );
  if (!invoice) throw new HttpProblem(404, `no invoice or bill with id ${id}`);
  const lines = await rows(
    db,
    sql`select l.id, l.name, l.display_type as "displayType", l.account_id as "accountId",
        a.code as "accountCode", a.name as "accountName", l.partner_id as "partnerId",
        ${money(sql`l.debit`)} as debit, ${money(sql`l.credit`)} as credit, ${money(sql`l.balance`)} as balance,
        ${money(sql`l.amount_currency`)} as "amountCurrency", lcur.name as currency,
        ${money(sql`l.amount_residual`)} as "amountResidual", l.reconciled
      from odoo.account_move_line l
      left join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
      left join odoo.res_currency lcur on lcur.id = l.currency_id and lcur._deleted_at is null
      where l.move_id = ${id} and l._deleted_at is null
      order by l.id`,
  );
  return { ...invoice, lines } as never;
}

// ── payments ──────────────────────────────────────────────────────────────────────────────────

const PAYMENT_SORTS = {
  date: { expr: sql`coalesce(y.date, '0001-01-01'::date)`, type: "date" as const },
  amount: { expr: sql`coalesce(y.amount, 0)`, type: "numeric" as const },
};

export async function listPayments(db: Db, q: Static<typeof PaymentQuery>) {
  const sort = q.sort ?? "-date";
  const key = sort.replace("-", "") as keyof typeof PAYMENT_SORTS;
  const ks = keyset(sort, PAYMENT_SORTS, sql`y.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const where = [sql`y._deleted_at is null`, ks.after];
  if (q.partnerId !== undefined) where.push(sql`y.partner_id = ${q.partnerId}`);
  if (q.journalId !== undefined) where.push(sql`y.journal_id = ${q.journalId}`);
  if (q.companyId !== undefined) where.push(sql`y.company_id = ${q.companyId}`);
  if (q.paymentType) where.push(sql`y.payment_type = ${q.paymentType}`);
  if (q.partnerType) where.push(sql`y.partner_type = ${q.partnerType}`);
  if (q.state) where.push(sql`y.state = ${q.state}`);
  if (q.dateFrom) where.push(sql`y.date >= ${q.dateFrom}::date`);
  if (q.dateTo) where.push(sql`y.date <= ${q.dateTo}::date`);
  const found = await rows(
    db,
    sql<{
      id: number;
      _k: string;
    }>`select y.id, y.name, y.date, ${money(sql`y.amount`)} as amount, cur.name as currency,
        y.partner_id as "partnerId", p.name as "partnerName", y.journal_id as "journalId",
        y.company_id as "companyId", y.payment_type as "paymentType", y.partner_type as "partnerType",
        y.state, y.move_id as "moveId", coalesce(y.memo, y.ref) as memo,
        ${PAYMENT_SORTS[key].expr}::text as "_k"
      from odoo.account_payment y
      left join odoo.res_partner p on p.id = y.partner_id and p._deleted_at is null
      left join odoo.res_currency cur on cur.id = y.currency_id and cur._deleted_at is null
      where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found as never[]);
}

// ── accounts ──────────────────────────────────────────────────────────────────────────────────

const ACCOUNT_SORTS = {
  code: { expr: sql`coalesce(a.code, '')`, type: "text" as const },
  id: { expr: sql`a.id`, type: "integer" as const },
};

export async function listAccounts(db: Db, q: Static<typeof AccountQuery>) {
  const sort = q.sort ?? "code";
  const key = sort.replace("-", "") as keyof typeof ACCOUNT_SORTS;
  const ks = keyset(sort, ACCOUNT_SORTS, sql`a.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const where = [sql`a._deleted_at is null`, ks.after];
  // Odoo 18+ shares accounts between companies (company_ids); before, one company_id.
  if (q.companyId !== undefined)
    where.push(sql`(a.company_id = ${q.companyId} or ${q.companyId}::integer = any(a.company_ids))`);
  if (q.accountType) where.push(sql`a.account_type = ${q.accountType}`);
  if (q.q) {
    const pattern = like(q.q);
    where.push(sql`(a.code ilike ${pattern} or a.name ilike ${pattern})`);
  }
  const found = await rows(
    db,
    sql<{
      id: number;
      _k: string | number;
    }>`select a.id, a.code, a.name, a.account_type as "accountType", a.reconcile,
        cur.name as currency, coalesce(a.company_id, a.company_ids[1]) as "companyId",
        coalesce(a.active, not a.deprecated, true) as active, ${ACCOUNT_SORTS[key].expr} as "_k"
      from odoo.account_account a
      left join odoo.res_currency cur on cur.id = a.currency_id and cur._deleted_at is null
      where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found as never[]);
}

// ── journal items ─────────────────────────────────────────────────────────────────────────────

const ITEM_SORTS = { date: { expr: sql`coalesce(l.date, '0001-01-01'::date)`, type: "date" as const } };

export async function listJournalItems(db: Db, q: Static<typeof JournalItemQuery>) {
  const sort = q.sort ?? "-date";
  const ks = keyset(sort, ITEM_SORTS, sql`l.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const where = [sql`l._deleted_at is null`, ks.after];
  if (q.accountId !== undefined) where.push(sql`l.account_id = ${q.accountId}`);
  if (q.partnerId !== undefined) where.push(sql`l.partner_id = ${q.partnerId}`);
  if (q.journalId !== undefined) where.push(sql`l.journal_id = ${q.journalId}`);
  if (q.companyId !== undefined) where.push(sql`l.company_id = ${q.companyId}`);
  if (q.moveId !== undefined) where.push(sql`l.move_id = ${q.moveId}`);
  if (q.dateFrom) where.push(sql`l.date >= ${q.dateFrom}::date`);
  if (q.dateTo) where.push(sql`l.date <= ${q.dateTo}::date`);
  if (q.postedOnly) where.push(sql`l.parent_state = 'posted'`);
  const found = await rows(
    db,
    sql<{
      id: number;
      _k: string;
    }>`select l.id, l.move_id as "moveId", l.move_name as "moveName", l.date, l.name,
        l.account_id as "accountId", a.code as "accountCode", l.partner_id as "partnerId",
        l.journal_id as "journalId", l.company_id as "companyId", ccur.name as "companyCurrency",
        ${money(sql`l.debit`)} as debit, ${money(sql`l.credit`)} as credit, ${money(sql`l.balance`)} as balance,
        ${money(sql`l.amount_currency`)} as "amountCurrency", cur.name as currency,
        ${money(sql`l.amount_residual`)} as "amountResidual", l.reconciled, l.parent_state as "parentState",
        l.display_type as "displayType", ${ITEM_SORTS.date.expr}::text as "_k"
      from odoo.account_move_line l
      left join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
      left join odoo.res_currency cur on cur.id = l.currency_id and cur._deleted_at is null
      left join odoo.res_currency ccur on ccur.id = l.company_currency_id and ccur._deleted_at is null
      where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found as never[]);
}

// ── aging ─────────────────────────────────────────────────────────────────────────────────────

const ACCOUNT_TYPE = { receivable: "asset_receivable", payable: "liability_payable" } as const;

/**
 * What each journal item of the given kinds still owed as of a date, in company currency: Odoo's
 * own residual computation (balance − the partial reconciliations where the item is the debit side
 * + those where it is the credit side, `account.move.line._compute_amount_residual`) restricted to
 * the partials that counted by then (`max_date` on or before it), as Odoo's aged
 * receivable/payable reports do. Items of posted entries dated on or before the date; the
 * partials are summed once per item in one pass (a hash join, no index needed). For any date on or
 * after every partial's max_date this equals the items' current `amount_residual`.
 */
const residualsAsOf = (
  source: ResidualSource,
  asOf: string,
  kinds: readonly (keyof typeof ACCOUNT_TYPE)[],
  companyId?: number,
  partnerId?: number,
) => {
  const where = [
    sql`l._deleted_at is null`,
    sql`l.parent_state = 'posted'`,
    sql`a.account_type = any(${kinds.map((k) => ACCOUNT_TYPE[k])}::text[])`,
    sql`l.date <= ${asOf}::date`,
  ];
  if (companyId !== undefined) where.push(sql`l.company_id = ${companyId}`);
  if (partnerId !== undefined) where.push(sql`l.partner_id = ${partnerId}`);
  // `current`: the items' residuals as Odoo keeps them now, exact on or after the latest partial's
  // date (or, without a reconciliation history on this Odoo, for today and later dates;
  // residualSource refuses earlier ones).
  const history = source === "history";
  return sql`select l.company_id, l.partner_id, a.account_type,
      ${history ? sql`l.balance - coalesce(matched.amount, 0)` : sql`l.amount_residual`} as residual,
      coalesce(l.date_maturity, m.invoice_date_due, l.date) as due
    from odoo.account_move_line l
    join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
    left join odoo.account_move m on m.id = l.move_id and m._deleted_at is null
    ${
      history
        ? sql`left join (
      select line_id, sum(amount) as amount from (
        select p.debit_move_id as line_id, p.amount from odoo.account_partial_reconcile p
          where p._deleted_at is null and p.max_date <= ${asOf}::date
        union all
        select p.credit_move_id, -p.amount from odoo.account_partial_reconcile p
          where p._deleted_at is null and p.max_date <= ${asOf}::date
      ) sides group by line_id
    ) matched on matched.line_id = l.id`
        : sql``
    }
    where ${and(where)}`;
};

/** Receivable or payable items open as of a date (signed so that what is owed is positive), with their days past due. */
const openItems = (
  source: ResidualSource,
  kind: "receivable" | "payable",
  asOf: string,
  companyId?: number,
  partnerId?: number,
) => {
  const sign = kind === "receivable" ? sql`1` : sql`-1`;
  return sql`select company_id, partner_id, ${sign} * residual as residual, ${asOf}::date - due as days
    from (${residualsAsOf(source, asOf, [kind], companyId, partnerId)}) items
    where residual <> 0`;
};

/**
 * Where open amounts as of a date come from: the reconciliation history (`history`), or the items'
 * current residuals (`current`): on or after the latest partial's date, where the two agree, and
 * when the connected Odoo does not provide `account.partial.reconcile` (a reduced Odoo-compatible
 * server; the ETL notes it in `etl.cursors.absent_at`), where they only answer for today or later.
 * Until the history's first sync has finished, reads wait (503): every item would look fully open,
 * wrong totals that look right (after an upgrade that added the model, or during the very first
 * sync). A missing table is the error handler's 503 (problem.ts).
 */
type ResidualSource = "history" | "current";

async function residualSource(db: Db, asOf: string): Promise<ResidualSource> {
  const synced = await db
    .selectFrom("etl.cursors")
    .select(["last_success_at", "absent_at"])
    .where("model", "=", "account.partial.reconcile")
    .executeTakeFirst();
  if (synced?.absent_at) {
    if (asOf < today()) {
      throw new HttpProblem(
        422,
        `open amounts as of a past date need the reconciliation history (account.partial.reconcile), which the connected Odoo does not provide: ask for today (omit asOf) or a later date`,
        [{ field: "asOf", message: `must be today (${today()}) or later on this Odoo` }],
      );
    }
    return "current";
  }
  if (!synced?.last_success_at) {
    throw new HttpProblem(
      503,
      "the reconciliation history (account.partial.reconcile) has not finished its first sync: open items cannot be computed yet; retry when the running sync has finished (GET /api/v1/sync/state)",
    );
  }
  // On or after the latest partial's date every partial counts, and each item's residual as of then
  // is Odoo's own `amount_residual` (balance − debit-side + credit-side partials): read it instead of
  // summing the whole history (the usual case, asOf = today; a third of the time at 500 000 items).
  // Two steps down the read index on max_date.
  const [latest] = await rows(
    db,
    sql<{ latest: string | null; undated: boolean }>`select
      (select max(max_date)::text from odoo.account_partial_reconcile where _deleted_at is null) as latest,
      exists (select 1 from odoo.account_partial_reconcile where _deleted_at is null and max_date is null) as undated`,
  );
  if (latest && !latest.undated && (latest.latest === null || latest.latest <= asOf)) return "current";
  return "history";
}

const bucketColumns = sql`
  ${sum0(sql`case when days <= 0 then residual end`)} as "notDue",
  ${sum0(sql`case when days between 1 and 30 then residual end`)} as "days1To30",
  ${sum0(sql`case when days between 31 and 60 then residual end`)} as "days31To60",
  ${sum0(sql`case when days between 61 and 90 then residual end`)} as "days61To90",
  ${sum0(sql`case when days > 90 then residual end`)} as "over90",
  ${sum0(sql`residual`)} as "total"`;

interface BucketRow {
  company_id: number;
  partner_id: number | null;
  partner_row: boolean;
  notDue: string;
  days1To30: string;
  days31To60: string;
  days61To90: string;
  over90: string;
  total: string;
}

export async function aging(db: Db, q: Static<typeof AgingQuery>): Promise<AgingReport> {
  const asOf = q.asOf ?? today();
  const kind = q.kind ?? "receivable";
  const companies = await companyList(db, q.companyId);
  const source = await residualSource(db, asOf);
  const grouped = await rows(
    db,
    sql<BucketRow>`select company_id, partner_id, grouping(partner_id) = 0 as partner_row, ${bucketColumns}
      from (${openItems(source, kind, asOf, q.companyId, q.partnerId)}) items
      group by grouping sets ((company_id, partner_id), (company_id))`,
  );
  const names = await partnerNames(
    db,
    grouped.filter((r) => r.partner_row && r.partner_id !== null).map((r) => r.partner_id as number),
  );
  const zero = { notDue: "0", days1To30: "0", days31To60: "0", days61To90: "0", over90: "0", total: "0" };
  const buckets = (r: BucketRow) => ({
    notDue: r.notDue,
    days1To30: r.days1To30,
    days31To60: r.days31To60,
    days61To90: r.days61To90,
    over90: r.over90,
    total: r.total,
  });
  return {
    asOf,
    kind,
    companies: companies.map((c) => {
      const mine = grouped.filter((r) => r.company_id === c.id);
      const totals = mine.find((r) => !r.partner_row);
      return {
        companyId: c.id,
        companyName: c.name,
        currency: c.currency,
        totals: totals ? buckets(totals) : zero,
        partners: mine
          .filter((r) => r.partner_row)
          .map((r) => ({
            partnerId: r.partner_id,
            partnerName: r.partner_id === null ? null : (names.get(r.partner_id) ?? null),
            ...buckets(r),
          }))
          .sort((a, b) => Number(b.total) - Number(a.total) || (a.partnerId ?? 0) - (b.partnerId ?? 0)),
      };
    }),
  };
}

async function companyList(db: Db, companyId?: number) {
  const found = await rows(
    db,
    sql<{
      id: number;
      name: string | null;
      currency: string | null;
    }>`select co.id, co.name, cur.name as currency
      from odoo.res_company co
      left join odoo.res_currency cur on cur.id = co.currency_id and cur._deleted_at is null
      where co._deleted_at is null ${companyId === undefined ? sql`` : sql`and co.id = ${companyId}`}
      order by co.id`,
  );
  if (companyId !== undefined && found.length === 0) {
    throw new HttpProblem(404, `no company with id ${companyId}`);
  }
  return found;
}

async function partnerNames(db: Db, ids: number[]): Promise<Map<number, string | null>> {
  if (!ids.length) return new Map();
  const found = await rows(
    db,
    sql<{
      id: number;
      name: string | null;
    }>`select id, name from odoo.res_partner where id = any(${ids}::integer[]) and _deleted_at is null`,
  );
  return new Map(found.map((r) => [r.id, r.name]));
}

// ── dashboard ─────────────────────────────────────────────────────────────────────────────────

const addMonths = (month: string, delta: number): string => {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const d = new Date(Date.UTC(y, m - 1 + delta, 1));
  return d.toISOString().slice(0, 7);
};

export async function dashboard(db: Db, q: Static<typeof DashboardQuery>): Promise<Dashboard> {
  const asOf = q.asOf ?? today();
  // Default: the 12 months ending with the latest month that has posted entries (on or before asOf),
  // so a company whose books stop earlier still sees its figures. Written over the indexed
  // expression (api_line_date_id) so that it is one step down that index, not a scan.
  const latest = q.to
    ? []
    : await rows(
        db,
        sql<{
          month: string | null;
        }>`select to_char(max(coalesce(date, '0001-01-01'::date)), 'YYYY-MM') as month
          from odoo.account_move_line
          where _deleted_at is null and parent_state = 'posted' and date is not null
            and coalesce(date, '0001-01-01'::date) <= ${asOf}::date`,
      );
  const to = q.to ?? latest[0]?.month ?? asOf.slice(0, 7);
  const from = q.from ?? addMonths(to, -11);
  if (from > to) {
    throw new HttpProblem(400, "`from` is after `to`", [
      { field: "query.from", message: "must not be after to" },
    ]);
  }
  if (addMonths(from, 120) <= to) {
    throw new HttpProblem(400, "at most 120 months at once", [
      { field: "query.from", message: "is more than 120 months before to" },
    ]);
  }
  const companies = await companyList(db, q.companyId);
  const companyFilter = q.companyId === undefined ? sql`` : sql`and l.company_id = ${q.companyId}`;
  const monthly = await rows(
    db,
    sql<{ company_id: number; month: string; revenue: string; bills: string }>`
      select co.id as company_id, to_char(ms.month, 'YYYY-MM') as month,
        coalesce(agg.revenue, 0)::text as revenue, coalesce(agg.bills, 0)::text as bills
      from odoo.res_company co
      cross join generate_series(${`${from}-01`}::date, ${`${to}-01`}::date, interval '1 month') as ms(month)
      left join (
        select l.company_id, date_trunc('month', l.date) as month,
          sum(case when m.move_type = any(${SALE_TYPES}::text[]) then -l.balance end) as revenue,
          sum(case when m.move_type = any(${PURCHASE_TYPES}::text[]) then l.balance end) as bills
        from odoo.account_move_line l
        join odoo.account_move m on m.id = l.move_id and m._deleted_at is null
        where l._deleted_at is null and l.parent_state = 'posted' and l.display_type = 'product'
          and l.date >= ${`${from}-01`}::date and l.date < (${`${to}-01`}::date + interval '1 month')
          ${companyFilter}
        group by 1, 2
      ) agg on agg.company_id = co.id and agg.month = ms.month
      where co._deleted_at is null ${q.companyId === undefined ? sql`` : sql`and co.id = ${q.companyId}`}
      order by co.id, ms.month`,
  );
  // Open and overdue as of asOf, from the reconciliation history like the aging report. Checked
  // after the first read of odoo.*: before any sync, that read's 503 says what to do.
  const source = await residualSource(db, asOf);
  const open = await rows(
    db,
    sql<{
      company_id: number;
      receivables: string;
      payables: string;
      overdue_receivables: string;
      overdue_payables: string;
    }>`select company_id,
        ${sum0(sql`case when account_type = 'asset_receivable' then residual end`)} as receivables,
        ${sum0(sql`case when account_type = 'liability_payable' then -residual end`)} as payables,
        ${sum0(sql`case when account_type = 'asset_receivable' and due < ${asOf}::date then residual end`)} as overdue_receivables,
        ${sum0(sql`case when account_type = 'liability_payable' and due < ${asOf}::date then -residual end`)} as overdue_payables
      from (${residualsAsOf(source, asOf, ["receivable", "payable"], q.companyId)}) items
      group by company_id`,
  );
  // Cash and bank as Odoo's journal dashboard shows them ("balance in GL"): the journal's default
  // account over every journal's posted items (a bank account also moves with opening entries and
  // transfers posted elsewhere), in company currency.
  const cash = await rows(
    db,
    sql<{
      company_id: number;
      journalId: number;
      journalName: string | null;
      journalType: string;
      balance: string;
    }>`
      select j.company_id, j.id as "journalId", j.name as "journalName", j.type as "journalType",
        coalesce((
          select sum(l.balance) from odoo.account_move_line l
          where l._deleted_at is null and l.account_id = j.default_account_id and l.parent_state = 'posted'
            and l.date <= ${asOf}::date
        ), 0)::text as balance
      from odoo.account_journal j
      where j._deleted_at is null and j.type in ('bank', 'cash')
        ${q.companyId === undefined ? sql`` : sql`and j.company_id = ${q.companyId}`}
      order by j.company_id, j.id`,
  );
  return {
    asOf,
    from,
    to,
    companies: companies.map((c) => {
      const o = open.find((r) => r.company_id === c.id);
      return {
        companyId: c.id,
        companyName: c.name,
        currency: c.currency,
        months: monthly
          .filter((r) => r.company_id === c.id)
          .map((r) => ({ month: r.month, revenue: r.revenue, bills: r.bills })),
        openReceivables: o?.receivables ?? "0",
        openPayables: o?.payables ?? "0",
        overdueReceivables: o?.overdue_receivables ?? "0",
        overduePayables: o?.overdue_payables ?? "0",
        cash: cash.filter((r) => r.company_id === c.id).map(({ company_id: _, ...rest }) => rest),
      };
    }),
  };
}
