import type { ReportParamsOf } from "@finanzas/contracts";
import { type BalanceTotals, companyList, NotSyncedError, trialBalance } from "@finanzas/ledger";
import { amount, type BuildContext, companyLine, companySheetName, openSheet, titleRows } from "./common.js";

type Params = ReportParamsOf<"trial-balance">;

/**
 * The trial balance of a period: per company a sheet with each account's initial balance, debit,
 * credit, period balance and ending balance, the earlier years' result as a row of its own, and a
 * totals row that balances to zero.
 */
export async function trialBalanceReport(ctx: BuildContext, params: Params): Promise<void> {
  const companies = await companyList(ctx.trx, params.companyId);
  // No company at all: nothing synced yet (a synced Odoo has at least one). Retried, so a report
  // asked for during the first sync is built once it has finished, not failed with an empty book.
  if (companies.length === 0)
    throw new NotSyncedError(
      "no company in the synced data: the first sync has not finished (GET /api/v1/sync/state); the report is tried again",
    );
  const { accounts, totals } = await trialBalance(ctx.trx, params);
  for (const company of companies) {
    const mine = accounts.filter((r) => r.companyId === company.id);
    const d = company.decimals;
    const sheet = openSheet(ctx, {
      name: companySheetName("Trial balance", company),
      columns: [
        { header: "Code", width: 12, type: "text" },
        { header: "Account", width: 40, type: "text" },
        { header: "Initial balance", width: 17, type: "money", decimals: d },
        { header: "Debit", width: 17, type: "money", decimals: d },
        { header: "Credit", width: 17, type: "money", decimals: d },
        { header: "Period balance", width: 17, type: "money", decimals: d },
        { header: "Ending balance", width: 17, type: "money", decimals: d },
      ],
      titleRows: titleRows(
        "Trial balance",
        [companyLine(company), `From ${params.dateFrom} to ${params.dateTo}`],
        ctx.generatedAt,
      ),
    });
    const cells = (r: BalanceTotals) => [
      amount(r.initialBalance, d),
      amount(r.debit, d),
      amount(r.credit, d),
      amount(r.periodBalance, d),
      amount(r.endingBalance, d),
    ];
    for (const r of mine) await sheet.addRow([r.code, r.name, ...cells(r)]);
    await ctx.wrote(mine.length);
    const sums = totals.get(company.id);
    if (sums) await sheet.addRow([null, "Total", ...cells(sums)], { style: "total" });
    await sheet.end();
  }
}
