import {
  DEFAULT_PAGE_SIZE,
  type JOURNAL_ITEM_SORTS,
  type JournalItem,
  type JournalItemQuery,
} from "@finanzas/contracts";
import { sql } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import { keyset, type SortMap } from "../keyset.js";
import { and, type Db, money, rows } from "../sql.js";

const SORTS: SortMap<typeof JOURNAL_ITEM_SORTS> = {
  date: { expr: sql`coalesce(l.date, '0001-01-01'::date)`, type: "date" },
};

export async function listJournalItems(db: Db, q: Static<typeof JournalItemQuery>) {
  const sort = q.sort ?? "-date";
  const ks = keyset(sort, SORTS, sql`l.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
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
    sql<
      Static<typeof JournalItem> & { _k: string }
    >`select l.id, l.move_id as "moveId", l.move_name as "moveName",
        l.date, l.name, l.account_id as "accountId", a.code as "accountCode", l.partner_id as "partnerId",
        l.journal_id as "journalId", l.company_id as "companyId", ccur.name as "companyCurrency",
        ${money(sql`l.debit`)} as debit, ${money(sql`l.credit`)} as credit, ${money(sql`l.balance`)} as balance,
        ${money(sql`l.amount_currency`)} as "amountCurrency", cur.name as currency,
        ${money(sql`l.amount_residual`)} as "amountResidual", l.reconciled, l.parent_state as "parentState",
        l.display_type as "displayType", ${SORTS.date.expr}::text as "_k"
      from odoo.account_move_line l
      left join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
      left join odoo.res_currency cur on cur.id = l.currency_id and cur._deleted_at is null
      left join odoo.res_currency ccur on ccur.id = l.company_currency_id and ccur._deleted_at is null
      where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found);
}
