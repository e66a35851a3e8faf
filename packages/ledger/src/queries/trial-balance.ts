import type { Db } from "../sql.js";
import { type AccountBalance, accountBalances } from "./balances.js";

export interface TrialBalanceParams {
  dateFrom: string;
  dateTo: string;
  companyId?: number | undefined;
}

/**
 * The trial balance of a period: per company and account (by code) the initial balance, debit,
 * credit, period balance and ending balance of its posted items, and the earlier years' result as
 * a row of its own, so that each column adds up to zero over a company (every entry balances).
 */
export async function trialBalance(db: Db, p: TrialBalanceParams): Promise<AccountBalance[]> {
  return accountBalances(db, p, { undistributed: true });
}
