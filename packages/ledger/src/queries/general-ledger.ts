import type { Database, Transaction } from "@finanzas/db";
import { sql } from "@finanzas/db";
import { cursorBatches } from "../snapshot.js";
import { and, money } from "../sql.js";
import { type AccountBalance, accountBalances, itemFilters, type PeriodParams } from "./balances.js";
import { currencyDecimals } from "./companies.js";

export type GeneralLedgerParams = PeriodParams;

/** One journal item of the general ledger, in company currency unless a field says otherwise. */
export interface GeneralLedgerItem {
  id: number;
  date: string | null;
  moveId: number | null;
  /** The journal entry's number (INV/2024/00012). */
  entry: string | null;
  journal: string | null;
  partnerName: string | null;
  label: string | null;
  reference: string | null;
  debit: string;
  credit: string;
  /** The account's balance after this item: initial balance + every item up to it. */
  runningBalance: string;
  /** The amount in the item's own currency, when that is not the company's. */
  amountCurrency: string | null;
  currency: string | null;
  currencyDecimals: number | null;
}

export type GeneralLedgerEvent =
  /** An account starts: its initial balance (and, ahead, its period's debit, credit and ending balance). */
  | { type: "account"; account: AccountBalance }
  /** The next items of that account, in date order. */
  | { type: "items"; account: AccountBalance; items: GeneralLedgerItem[] }
  /** The account ends: its totals and ending balance. */
  | { type: "end"; account: AccountBalance };

/**
 * The general ledger, streamed: per company and account (by code) an initial balance, the items of
 * the period in date order with a running balance computed by PostgreSQL, and the ending balance.
 * Each account's items come through a server-side cursor down the read index on
 * (account, date, id): memory holds one batch whatever the size of the books. Run it inside
 * `inSnapshot` so that balances and items come from one snapshot.
 */
export async function* generalLedger(
  trx: Transaction<Database>,
  p: GeneralLedgerParams,
  options: { batchSize?: number } = {},
): AsyncGenerator<GeneralLedgerEvent> {
  // A cursor is planned for its first rows by default (cursor_tuple_fraction 0.1): nested loops
  // that are slow over a whole account. The ledger is read to the end.
  await sql`select set_config('cursor_tuple_fraction', '1', true)`.execute(trx);
  const accounts = await accountBalances(trx, p, { undistributed: false });
  for (const account of accounts) {
    yield { type: "account", account };
    if (account.items > 0 && account.accountId !== null) {
      const where = [
        ...itemFilters(p),
        sql`l.company_id = ${account.companyId}`,
        sql`l.account_id = ${account.accountId}`,
        sql`l.date >= ${p.dateFrom}::date`,
        sql`l.date <= ${p.dateTo}::date`,
      ];
      const query = sql<GeneralLedgerItem>`
        select l.id, l.date, l.move_id as "moveId", l.move_name as entry, j.code as journal,
          pa.name as "partnerName", l.name as label, l.ref as reference,
          ${money(sql`coalesce(l.debit, 0)`)} as debit, ${money(sql`coalesce(l.credit, 0)`)} as credit,
          (${account.initialBalance}::numeric + sum(coalesce(l.balance, 0)) over (
            order by coalesce(l.date, '0001-01-01'::date), l.id rows between unbounded preceding and current row
          ))::text as "runningBalance",
          case when l.currency_id is distinct from l.company_currency_id then ${money(sql`l.amount_currency`)} end as "amountCurrency",
          case when l.currency_id is distinct from l.company_currency_id then cur.name end as currency,
          case when l.currency_id is distinct from l.company_currency_id then ${currencyDecimals("cur")} end as "currencyDecimals"
        from odoo.account_move_line l
        left join odoo.account_journal j on j.id = l.journal_id and j._deleted_at is null
        left join odoo.res_partner pa on pa.id = l.partner_id and pa._deleted_at is null
        left join odoo.res_currency cur on cur.id = l.currency_id and cur._deleted_at is null
        where ${and(where)}
        order by coalesce(l.date, '0001-01-01'::date), l.id`;
      for await (const items of cursorBatches(trx, query, options.batchSize)) {
        yield { type: "items", account, items };
      }
    }
    yield { type: "end", account };
  }
}
