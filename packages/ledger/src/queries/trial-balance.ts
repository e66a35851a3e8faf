import { sumDecimals } from "../decimal.js";
import type { Db } from "../sql.js";
import { type AccountBalance, accountBalances } from "./balances.js";

export interface TrialBalanceParams {
  dateFrom: string;
  dateTo: string;
  companyId?: number | undefined;
}

export type BalanceTotals = Pick<
  AccountBalance,
  "initialBalance" | "debit" | "credit" | "periodBalance" | "endingBalance"
>;

export interface TrialBalance {
  accounts: AccountBalance[];
  /** Per company, each column's exact sum: initial, period and ending balances add up to zero. */
  totals: Map<number, BalanceTotals>;
}

/**
 * The trial balance of a period: per company and account (by code) the initial balance, debit,
 * credit, period balance and ending balance of its posted items, and the earlier years' result as
 * a row of its own, so that each balance column adds up to zero over a company (every entry balances).
 */
export async function trialBalance(db: Db, p: TrialBalanceParams): Promise<TrialBalance> {
  const accounts = await accountBalances(db, p, { undistributed: true });
  const totals = new Map<number, BalanceTotals>();
  for (const companyId of new Set(accounts.map((a) => a.companyId))) {
    const mine = accounts.filter((a) => a.companyId === companyId);
    const sum = (key: keyof BalanceTotals) => sumDecimals(mine.map((a) => a[key]));
    totals.set(companyId, {
      initialBalance: sum("initialBalance"),
      debit: sum("debit"),
      credit: sum("credit"),
      periodBalance: sum("periodBalance"),
      endingBalance: sum("endingBalance"),
    });
  }
  return { accounts, totals };
}
