import type { Dashboard, DashboardQuery } from "@finanzas/contracts";
import { sql } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import { InvalidQueryError } from "../errors.js";
import { type Db, PURCHASE_TYPES, rows, SALE_TYPES, sum0, today } from "../sql.js";
import { companyList } from "./companies.js";
import { residualSource, residualsAsOf } from "./open-items.js";

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
    throw new InvalidQueryError("`from` is after `to`", [{ param: "from", message: "must not be after to" }]);
  }
  if (addMonths(from, 120) <= to) {
    throw new InvalidQueryError("at most 120 months at once", [
      { param: "from", message: "is more than 120 months before to" },
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
      from (${residualsAsOf(source, asOf, ["receivable", "payable"], { companyId: q.companyId })}) items
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
