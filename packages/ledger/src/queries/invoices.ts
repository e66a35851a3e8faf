import {
  DEFAULT_PAGE_SIZE,
  type INVOICE_SORTS,
  type Invoice,
  type InvoiceDetail,
  type InvoiceLine,
  type InvoiceQuery,
} from "@finanzas/contracts";
import { type Database, sql, type Transaction } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import { NotFoundError } from "../errors.js";
import { INVOICE_SEARCH, searchTextOf } from "../indexes.js";
import { keyset, type SortMap } from "../keyset.js";
import { cursorBatches } from "../snapshot.js";
import { and, type Db, INVOICE_TYPES, like, money, PURCHASE_TYPES, rows, SALE_TYPES, today } from "../sql.js";
import { currencyDecimals } from "./companies.js";

/** The searched fields as one text, the same expression as the trigram index's (see indexes.ts). */
const INVOICE_SEARCH_TEXT = sql.raw(`(${searchTextOf(INVOICE_SEARCH, "m")})`);

const SORTS: SortMap<typeof INVOICE_SORTS> = {
  date: { expr: sql`coalesce(m.date, '0001-01-01'::date)`, type: "date" },
  dueDate: { expr: sql`coalesce(m.invoice_date_due, m.date, '0001-01-01'::date)`, type: "date" },
  amountTotal: { expr: sql`coalesce(m.amount_total, 0)`, type: "numeric" },
  name: { expr: sql`coalesce(m.name, '')`, type: "text" },
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

/** Posted, with something left to pay, and due before the date. */
const overdueCondition = (asOf: string) =>
  sql`(m.state = 'posted' and m.amount_residual <> 0 and m.payment_state in ('not_paid', 'partial') and m.invoice_date_due < ${asOf}::date)`;

/** The invoice list's filters as SQL conditions on `m` (account_move) and `cur` (its currency). */
export function invoiceFilters(q: Omit<InvoiceQuery, "sort" | "limit" | "cursor">) {
  const types = q.type
    ? [q.type]
    : q.direction === "sale"
      ? SALE_TYPES
      : q.direction === "purchase"
        ? PURCHASE_TYPES
        : INVOICE_TYPES;
  const where = [sql`m._deleted_at is null`, sql`m.move_type = any(${types}::text[])`];
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
  if (q.q) where.push(sql`${INVOICE_SEARCH_TEXT} ilike ${like(q.q)}`);
  return where;
}

export async function listInvoices(db: Db, q: InvoiceQuery) {
  const sort = q.sort ?? "-date";
  const key = sort.replace("-", "") as keyof typeof SORTS;
  const ks = keyset(sort, SORTS, sql`m.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const where = [...invoiceFilters(q), ks.after];
  const cast = SORTS[key].type === "numeric" || SORTS[key].type === "date" ? sql`::text` : sql``;
  const found = await rows(
    db,
    sql<Static<typeof Invoice> & { _k: string }>`select ${invoiceColumns}, ${SORTS[key].expr}${cast} as "_k"
      from ${invoiceFrom} where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found);
}

export async function getInvoice(db: Db, id: number): Promise<Static<typeof InvoiceDetail>> {
  const [invoice] = await rows(
    db,
    sql<
      Static<typeof Invoice> & { companyCurrency: string | null }
    >`select ${invoiceColumns}, ccur.name as "companyCurrency"
      from ${invoiceFrom}
      left join odoo.res_company co on co.id = m.company_id and co._deleted_at is null
      left join odoo.res_currency ccur on ccur.id = co.currency_id and ccur._deleted_at is null
      where m.id = ${id} and m._deleted_at is null and m.move_type = any(${INVOICE_TYPES}::text[])`,
  );
  if (!invoice) throw new NotFoundError(`no invoice or bill with id ${id}`);
  const lines = await rows(
    db,
    sql<
      Static<typeof InvoiceLine>
    >`select l.id, l.name, l.display_type as "displayType", l.account_id as "accountId",
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
  return { ...invoice, lines };
}

/** One row of the invoice register: amounts in the document's currency (`currency`, `decimals`). */
export interface InvoiceRegisterRow {
  id: number;
  companyId: number | null;
  name: string | null;
  moveType: string;
  invoiceDate: string | null;
  dueDate: string | null;
  partnerName: string | null;
  vat: string | null;
  amountUntaxed: string | null;
  amountTax: string | null;
  amountTotal: string | null;
  amountResidual: string | null;
  currency: string | null;
  decimals: number;
  state: string;
  paymentState: string | null;
}

/**
 * The invoices and bills the invoice list's filters select, for a register: per company, by invoice
 * date and number, streamed through a server-side cursor. Credit notes and refunds carry their
 * amounts negated, as Odoo's reports show them (signed by the document's direction).
 */
export function invoiceRegister(
  trx: Transaction<Database>,
  q: Omit<InvoiceQuery, "sort" | "limit" | "cursor">,
  batchSize?: number,
): AsyncGenerator<InvoiceRegisterRow[]> {
  const sign = sql`(case when m.move_type in ('out_refund', 'in_refund') then -1 else 1 end)`;
  const query = sql<InvoiceRegisterRow>`select m.id, m.company_id as "companyId", m.name, m.move_type as "moveType",
      m.invoice_date as "invoiceDate", m.invoice_date_due as "dueDate", p.name as "partnerName", p.vat,
      ${money(sql`${sign} * m.amount_untaxed`)} as "amountUntaxed", ${money(sql`${sign} * m.amount_tax`)} as "amountTax",
      ${money(sql`${sign} * m.amount_total`)} as "amountTotal", ${money(sql`${sign} * m.amount_residual`)} as "amountResidual",
      cur.name as currency, ${currencyDecimals("cur")} as decimals, m.state, m.payment_state as "paymentState"
    from ${invoiceFrom} where ${and(invoiceFilters(q))}
    order by m.company_id, m.invoice_date nulls last, m.name, m.id`;
  return cursorBatches(trx, query, batchSize);
}
