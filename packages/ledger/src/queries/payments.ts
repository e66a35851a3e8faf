import { DEFAULT_PAGE_SIZE, type PAYMENT_SORTS, type Payment, type PaymentQuery } from "@finanzas/contracts";
import { sql } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import { keyset, type SortMap } from "../keyset.js";
import { and, type Db, money, rows } from "../sql.js";

const SORTS: SortMap<typeof PAYMENT_SORTS> = {
  date: { expr: sql`coalesce(y.date, '0001-01-01'::date)`, type: "date" },
  amount: { expr: sql`coalesce(y.amount, 0)`, type: "numeric" },
};

export async function listPayments(db: Db, q: Static<typeof PaymentQuery>) {
  const sort = q.sort ?? "-date";
  const key = sort.replace("-", "") as keyof typeof SORTS;
  const ks = keyset(sort, SORTS, sql`y.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
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
    sql<
      Static<typeof Payment> & { _k: string }
    >`select y.id, y.name, y.date, ${money(sql`y.amount`)} as amount,
        cur.name as currency, y.partner_id as "partnerId", p.name as "partnerName", y.journal_id as "journalId",
        y.company_id as "companyId", y.payment_type as "paymentType", y.partner_type as "partnerType",
        y.state, y.move_id as "moveId", coalesce(y.memo, y.ref) as memo,
        ${SORTS[key].expr}::text as "_k"
      from odoo.account_payment y
      left join odoo.res_partner p on p.id = y.partner_id and p._deleted_at is null
      left join odoo.res_currency cur on cur.id = y.currency_id and cur._deleted_at is null
      where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found);
}
