import type { ReportParamsOf } from "@finanzas/contracts";
import { companyList, invoiceRegister } from "@finanzas/ledger";
import type { XlsxSheet } from "../xlsx/index.js";
import {
  type BuildContext,
  companyLine,
  companySheetName,
  emptySheet,
  openSheet,
  titleRows,
} from "./common.js";

type Params = ReportParamsOf<"invoice-register">;

const filterLines = (p: Params): string[] =>
  Object.entries(p)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${String(v)}`);

/**
 * The invoices and bills the invoice list's filters select, per company: number, dates, partner,
 * VAT, untaxed, tax, total and open amount in the document's currency (a column says which, and
 * each amount has that currency's decimals), state and payment state. Credit notes and refunds
 * count negative.
 */
export async function invoiceRegisterReport(ctx: BuildContext, params: Params): Promise<void> {
  const companies = new Map((await companyList(ctx.trx, params.companyId)).map((c) => [c.id, c]));
  const filters = filterLines(params);
  let sheet: XlsxSheet | undefined;
  let sheetCompany: number | null | undefined;
  for await (const batch of invoiceRegister(ctx.trx, params, ctx.batchSize)) {
    for (const r of batch) {
      if (!sheet || sheetCompany !== r.companyId) {
        await sheet?.end();
        sheetCompany = r.companyId;
        const company = (r.companyId !== null && companies.get(r.companyId)) || {
          id: r.companyId ?? 0,
          name: null,
          currency: null,
        };
        sheet = openSheet(ctx, {
          name: companySheetName("Invoices", company),
          columns: [
            { header: "Number", width: 20, type: "text" },
            { header: "Type", width: 12, type: "text" },
            { header: "Invoice date", width: 12, type: "date" },
            { header: "Due date", width: 12, type: "date" },
            { header: "Partner", width: 32, type: "text" },
            { header: "VAT", width: 16, type: "text" },
            { header: "Untaxed", width: 15, type: "money" },
            { header: "Tax", width: 13, type: "money" },
            { header: "Total", width: 15, type: "money" },
            { header: "Open amount", width: 15, type: "money" },
            { header: "Currency", width: 9, type: "text" },
            { header: "State", width: 9, type: "text" },
            { header: "Payment state", width: 13, type: "text" },
          ],
          titleRows: titleRows(
            "Invoice register",
            [`Company: ${company.name ?? company.id} — amounts in each document's currency`, ...filters],
            ctx.generatedAt,
          ),
        });
      }
      const money = (value: string | null) => (value === null ? null : { value, decimals: r.decimals });
      await sheet.addRow([
        r.name,
        r.moveType,
        r.invoiceDate,
        r.dueDate,
        r.partnerName,
        r.vat,
        money(r.amountUntaxed),
        money(r.amountTax),
        money(r.amountTotal),
        money(r.amountResidual),
        r.currency,
        r.state,
        r.paymentState,
      ]);
    }
    await ctx.wrote(batch.length);
  }
  if (sheet) return sheet.end();
  const first = [...companies.values()][0];
  const title = titleRows(
    "Invoice register",
    [first ? companyLine(first) : null, ...filters],
    ctx.generatedAt,
  );
  await emptySheet(ctx, "Invoices", title, "No invoices match these filters");
}
