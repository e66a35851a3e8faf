import type { ReportParamsOf } from "@finanzas/contracts";
import { type AccountBalance, companyList, generalLedger } from "@finanzas/ledger";
import type { XlsxSheet } from "../xlsx/index.js";
import {
  amount,
  type BuildContext,
  companyLine,
  companySheetName,
  emptySheet,
  listLine,
  openSheet,
  titleRows,
} from "./common.js";

type Params = ReportParamsOf<"general-ledger">;

/**
 * The general ledger of a period: per company a sheet with, per account (by code), its initial
 * balance, its journal items in date order with a running balance, and its ending balance. Read
 * through server-side cursors and written as it comes: memory does not grow with the books.
 */
export async function generalLedgerReport(ctx: BuildContext, params: Params): Promise<void> {
  const companies = new Map((await companyList(ctx.trx, params.companyId)).map((c) => [c.id, c]));
  let sheet: XlsxSheet | undefined;
  let sheetCompany: number | undefined;
  let d = 2;
  const filters = [
    `From ${params.dateFrom} to ${params.dateTo}`,
    listLine("Accounts", params.accountIds),
    params.partnerId === undefined ? null : `Partner: ${params.partnerId}`,
    listLine("Journals", params.journalIds),
    params.includeDraft ? "Draft entries included" : "Posted entries",
  ];
  const open = async (account: AccountBalance) => {
    if (sheet && sheetCompany === account.companyId) return sheet;
    await sheet?.end();
    const company = companies.get(account.companyId) ?? {
      id: account.companyId,
      name: account.companyName,
      currency: account.currency,
      decimals: account.decimals,
    };
    d = company.decimals;
    sheetCompany = account.companyId;
    sheet = openSheet(ctx, {
      name: companySheetName("General ledger", company),
      columns: [
        { header: "Date", width: 11, type: "date" },
        { header: "Entry", width: 20, type: "text" },
        { header: "Journal", width: 9, type: "text" },
        { header: "Partner", width: 28, type: "text" },
        { header: "Label", width: 34, type: "text" },
        { header: "Reference", width: 16, type: "text" },
        { header: "Debit", width: 15, type: "money", decimals: d },
        { header: "Credit", width: 15, type: "money", decimals: d },
        { header: "Balance", width: 16, type: "money", decimals: d },
        { header: "Amount currency", width: 15, type: "money", decimals: 2 },
        { header: "Currency", width: 9, type: "text" },
      ],
      titleRows: titleRows("General ledger", [companyLine(company), ...filters], ctx.generatedAt),
    });
    return sheet;
  };
  for await (const event of generalLedger(ctx.trx, params, { batchSize: ctx.batchSize })) {
    const s = await open(event.account);
    const a = event.account;
    const accountLabel = `${a.code ?? ""} ${a.name ?? ""}`.trim();
    if (event.type === "account") {
      await s.addRow(
        [null, accountLabel, null, null, "Initial balance", null, null, null, amount(a.initialBalance, d)],
        {
          style: "bold",
        },
      );
    } else if (event.type === "items") {
      for (const i of event.items) {
        await s.addRow([
          i.date,
          i.entry,
          i.journal,
          i.partnerName,
          i.label,
          i.reference,
          // in the company's currency: the columns' own decimals (no object per cell)
          i.debit,
          i.credit,
          i.runningBalance,
          i.amountCurrency === null ? null : { value: i.amountCurrency, decimals: i.currencyDecimals ?? 2 },
          i.currency,
        ]);
      }
      await ctx.wrote(event.items.length);
    } else {
      await s.addRow(
        [
          null,
          accountLabel,
          null,
          null,
          "Ending balance",
          null,
          amount(a.debit, d),
          amount(a.credit, d),
          amount(a.endingBalance, d),
        ],
        { style: "subtotal" },
      );
    }
  }
  if (sheet) return sheet.end();
  const first = [...companies.values()][0];
  const title = titleRows("General ledger", [first ? companyLine(first) : null, ...filters], ctx.generatedAt);
  await emptySheet(ctx, "General ledger", title, "No journal items in this period");
}
