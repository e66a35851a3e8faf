import type { ReportParamsOf } from "@finanzas/contracts";
import { aging, companyList, openItemBatches, today } from "@finanzas/ledger";
import type { ColumnSpec } from "../xlsx/index.js";
import {
  amount,
  type BuildContext,
  companyLine,
  companySheetName,
  listLine,
  openSheet,
  titleRows,
} from "./common.js";

type Params = ReportParamsOf<"aged-balance">;

const BUCKETS = ["notDue", "days1To30", "days31To60", "days61To90", "over90", "total"] as const;

const summaryColumns = (decimals: number): ColumnSpec[] => [
  { header: "Partner", width: 36, type: "text" },
  { header: "Not due", width: 15, type: "money", decimals },
  { header: "1–30", width: 15, type: "money", decimals },
  { header: "31–60", width: 15, type: "money", decimals },
  { header: "61–90", width: 15, type: "money", decimals },
  { header: "Over 90", width: 15, type: "money", decimals },
  { header: "Total", width: 16, type: "money", decimals },
];

const itemColumns = (decimals: number): ColumnSpec[] => [
  { header: "Partner", width: 32, type: "text" },
  { header: "Document", width: 20, type: "text" },
  { header: "Reference", width: 18, type: "text" },
  { header: "Date", width: 12, type: "date" },
  { header: "Due date", width: 12, type: "date" },
  { header: "Days overdue", width: 10, type: "integer" },
  { header: "Original amount", width: 16, type: "money", decimals },
  { header: "Open amount", width: 16, type: "money", decimals },
  { header: "Amount in currency", width: 16, type: "money", decimals: 2 },
  { header: "Currency", width: 9, type: "text" },
];

/**
 * Aged receivables or payables as of a date: per company a sheet with one row per partner (the
 * same figures as GET /aging for the same question) and a totals row, then a sheet with the open
 * items behind them.
 */
export async function agedBalance(ctx: BuildContext, params: Params): Promise<void> {
  const asOf = params.asOf ?? today();
  const report = await aging(ctx.trx, {
    kind: params.type,
    asOf,
    ...(params.companyId === undefined ? {} : { companyId: params.companyId }),
    partnerIds: params.partnerIds,
  });
  const title = params.type === "receivable" ? "Aged receivables" : "Aged payables";
  const decimalsOf = new Map((await companyList(ctx.trx, params.companyId)).map((c) => [c.id, c.decimals]));
  for (const company of report.companies) {
    const decimals = decimalsOf.get(company.companyId) ?? 2;
    const heading = titleRows(
      title,
      [
        companyLine({ name: company.companyName, currency: company.currency }),
        `As of ${asOf}`,
        listLine("Partners", params.partnerIds),
      ],
      ctx.generatedAt,
    );
    const summary = openSheet(ctx, {
      name: companySheetName(params.type === "receivable" ? "Receivables" : "Payables", {
        id: company.companyId,
        name: company.companyName,
      }),
      columns: summaryColumns(decimals),
      titleRows: heading,
    });
    for (const p of company.partners) {
      await summary.addRow([
        p.partnerName ?? (p.partnerId === null ? "(no partner)" : `#${p.partnerId}`),
        ...BUCKETS.map((b) => amount(p[b], decimals)),
      ]);
    }
    await summary.addRow(["Total", ...BUCKETS.map((b) => amount(company.totals[b], decimals))], {
      style: "total",
    });
    await ctx.wrote(company.partners.length);
    await summary.end();

    const items = openSheet(ctx, {
      name: companySheetName("Open items", { id: company.companyId, name: company.companyName }),
      columns: itemColumns(decimals),
      titleRows: heading,
    });
    for await (const batch of openItemBatches(
      ctx.trx,
      {
        kind: params.type,
        asOf,
        companyId: company.companyId,
        partnerIds: params.partnerIds,
      },
      ctx.batchSize,
    )) {
      for (const i of batch) {
        await items.addRow([
          i.partnerName,
          i.document,
          i.reference,
          i.date,
          i.dueDate,
          i.daysOverdue,
          amount(i.originalAmount, decimals),
          amount(i.openAmount, decimals),
          i.amountCurrency === null ? null : amount(i.amountCurrency, 2),
          i.currency,
        ]);
      }
      await ctx.wrote(batch.length);
    }
    // the open items add up to the aging's total (the same query underneath)
    await items.addRow(
      ["Total", null, null, null, null, null, null, amount(company.totals.total, decimals)],
      {
        style: "total",
      },
    );
    await items.end();
  }
}
