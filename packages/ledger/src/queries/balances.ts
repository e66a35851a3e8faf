import { sql } from "@finanzas/db";
import type { RawBuilder } from "kysely";
import { InvalidQueryError } from "../errors.js";
import { and, type Db, rows } from "../sql.js";
import { currencyDecimals } from "./companies.js";

/*
 * Balances per account over a period, the ground of the general ledger and the trial balance.
 *
 * Initial balance, as Odoo's and OCA's reports compute it: for balance-sheet accounts every item
 * before the period; for income and expense accounts only the items of the period's fiscal year
 * before it (their earlier years closed into the result). The fiscal year is the calendar year:
 * Odoo's `fiscalyear_last_day/month` are not synced. So that the initial balances of a whole chart
 * still add up to zero, the earlier years' result is its own row (`undistributed`, Odoo's
 * "Undistributed Profits/Losses").
 */

export interface PeriodParams {
  dateFrom: string;
  dateTo: string;
  companyId?: number | undefined;
  accountIds?: readonly number[] | undefined;
  partnerId?: number | undefined;
  journalIds?: readonly number[] | undefined;
  /** Draft entries too (never cancelled ones); default posted only. */
  includeDraft?: boolean | undefined;
}

export interface AccountBalance {
  companyId: number;
  companyName: string | null;
  currency: string | null;
  decimals: number;
  /** null: the row of earlier years' undistributed result. */
  accountId: number | null;
  code: string | null;
  name: string | null;
  accountType: string | null;
  initialBalance: string;
  debit: string;
  credit: string;
  /** debit − credit of the period. */
  periodBalance: string;
  endingBalance: string;
  /** Journal items in the period. */
  items: number;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function checkPeriod(p: { dateFrom: string; dateTo: string }): void {
  if (!DATE.test(p.dateFrom))
    throw new InvalidQueryError("dateFrom is not a date", [
      { param: "dateFrom", message: "must be YYYY-MM-DD" },
    ]);
  if (!DATE.test(p.dateTo))
    throw new InvalidQueryError("dateTo is not a date", [{ param: "dateTo", message: "must be YYYY-MM-DD" }]);
  if (p.dateFrom > p.dateTo)
    throw new InvalidQueryError("dateFrom is after dateTo", [
      { param: "dateFrom", message: "must not be after dateTo" },
    ]);
}

/** The first day of the fiscal year a date falls in (calendar years). */
export const fiscalYearStart = (date: string): string => `${date.slice(0, 4)}-01-01`;

/** Income and expense accounts: their balance starts again each fiscal year. */
export const profitAndLoss = (alias: string): RawBuilder<unknown> =>
  sql.raw(
    `(coalesce(${alias}.internal_group, '') in ('income', 'expense') or coalesce(${alias}.account_type, '') like 'income%' or coalesce(${alias}.account_type, '') like 'expense%')`,
  );

/** The items a period report counts, on `l` (account_move_line): state, company and the filters. */
export function itemFilters(p: PeriodParams): RawBuilder<unknown>[] {
  const where = [
    sql`l._deleted_at is null`,
    p.includeDraft ? sql`l.parent_state in ('posted', 'draft')` : sql`l.parent_state = 'posted'`,
  ];
  if (p.companyId !== undefined) where.push(sql`l.company_id = ${p.companyId}`);
  if (p.accountIds?.length) where.push(sql`l.account_id = any(${[...p.accountIds]}::integer[])`);
  if (p.partnerId !== undefined) where.push(sql`l.partner_id = ${p.partnerId}`);
  if (p.journalIds?.length) where.push(sql`l.journal_id = any(${[...p.journalIds]}::integer[])`);
  return where;
}

/**
 * Initial balance, debit, credit and ending balance of each account with anything to show (an
 * initial balance or items in the period), per company, by company then account code; with
 * `undistributed`, the earlier years' result as a row of its own at the end of each company.
 * One pass over the items up to dateTo.
 */
export async function accountBalances(
  db: Db,
  p: PeriodParams,
  options: { undistributed: boolean },
): Promise<AccountBalance[]> {
  checkPeriod(p);
  const fyStart = fiscalYearStart(p.dateFrom);
  const where = [...itemFilters(p), sql`l.date <= ${p.dateTo}::date`];
  const inPeriod = sql`l.date >= ${p.dateFrom}::date`;
  // before the period, and for income and expense accounts within its fiscal year
  const opening = sql`(l.date < ${p.dateFrom}::date and (not ${profitAndLoss("a")} or l.date >= ${fyStart}::date))`;
  const closedEarlier = sql`(l.date < ${fyStart}::date and ${profitAndLoss("a")})`;
  const companyFilter = p.companyId === undefined ? sql`` : sql`and co.id = ${p.companyId}`;
  const found = await rows(
    db,
    sql<AccountBalance>`
      with per_account as (
        select l.company_id, l.account_id,
          coalesce(sum(l.balance) filter (where ${opening}), 0) as initial,
          coalesce(sum(l.debit) filter (where ${inPeriod}), 0) as debit,
          coalesce(sum(l.credit) filter (where ${inPeriod}), 0) as credit,
          count(*) filter (where ${inPeriod})::integer as items,
          coalesce(sum(l.balance) filter (where ${closedEarlier}), 0) as closed
        from odoo.account_move_line l
        join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
        where ${and(where)}
        group by l.company_id, l.account_id
      ), shown as (
        select company_id, account_id, initial, debit, credit, items from per_account
        where initial <> 0 or items > 0
        union all
        select company_id, null, sum(closed), 0, 0, 0 from per_account
        where ${options.undistributed ? sql`true` : sql`false`}
        group by company_id having sum(closed) <> 0
      )
      select s.company_id as "companyId", co.name as "companyName", cur.name as currency,
        ${currencyDecimals("cur")} as decimals,
        s.account_id as "accountId",
        case when s.account_id is null then null else a.code end as code,
        case when s.account_id is null then 'Undistributed profits/losses' else a.name end as name,
        a.account_type as "accountType",
        s.initial::text as "initialBalance", s.debit::text as debit, s.credit::text as credit,
        (s.debit - s.credit)::text as "periodBalance", (s.initial + s.debit - s.credit)::text as "endingBalance",
        s.items
      from shown s
      join odoo.res_company co on co.id = s.company_id and co._deleted_at is null ${companyFilter}
      left join odoo.res_currency cur on cur.id = co.currency_id and cur._deleted_at is null
      left join odoo.account_account a on a.id = s.account_id
      order by s.company_id, s.account_id is null, a.code, s.account_id`,
  );
  return found;
}
