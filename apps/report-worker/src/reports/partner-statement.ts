import type { ReportParamsOf } from "@finanzas/contracts";
import { partnerStatement } from "@finanzas/ledger";
import { amount, type BuildContext, companySheetName, emptySheet, openSheet, titleRows } from "./common.js";

type Params = ReportParamsOf<"partner-statement">;

const BUCKETS = ["notDue", "days1To30", "days31To60", "days61To90", "over90", "total"] as const;

/**
 * A customer's statement of account, per company: the customer's name, VAT and address, the
 * aging of what it owes, its movements over the period with a running balance, and its open items
 * as of the date (the figures of the aging report and the open items for that partner). The mailer
 * attaches it to statements and reminders.
 */
export async function partnerStatementReport(ctx: BuildContext, params: Params): Promise<void> {
  const s = await partnerStatement(ctx.trx, params);
  const h = s.header;
  const address = [h.street, [h.zip, h.city].filter(Boolean).join(" "), h.countryCode]
    .filter(Boolean)
    .join(", ");
  const header = [
    `Customer: ${h.name ?? `#${h.partnerId}`}`,
    h.vat ? `VAT: ${h.vat}` : null,
    address ? `Address: ${address}` : null,
    `Movements ${s.dateFrom ? `from ${s.dateFrom} ` : ""}to ${s.dateTo}; open items as of ${s.asOf}`,
  ];
  const sections = s.companies.length ? s.companies : [];
  if (!sections.length) {
    const title = titleRows("Statement of account", header, ctx.generatedAt);
    return emptySheet(ctx, "Statement", title, "Nothing owed and no movements in this period");
  }
  for (const c of sections) {
    const d = c.decimals;
    const title = titleRows(
      "Statement of account",
      [
        ...header,
        `Company: ${c.companyName ?? c.companyId} — amounts in ${c.currency ?? "company currency"}`,
      ],
      ctx.generatedAt,
    );
    // the aging of what it owes, then the movements with a running balance, on one sheet
    const sheet = openSheet(ctx, {
      name: companySheetName("Statement", { id: c.companyId, name: c.companyName }),
      columns: [
        { header: "Date", width: 11, type: "date" },
        { header: "Document", width: 20, type: "text" },
        { header: "Reference", width: 18, type: "text" },
        { header: "Due date", width: 11, type: "date" },
        { header: "Description", width: 34, type: "text" },
        { header: "Debit", width: 15, type: "money", decimals: d },
        { header: "Credit", width: 15, type: "money", decimals: d },
        { header: "Balance", width: 16, type: "money", decimals: d },
      ],
      titleRows: title,
      autoFilter: false,
    });
    await sheet.addRow([null, null, null, null, "Initial balance", null, null, amount(c.initialBalance, d)], {
      style: "bold",
    });
    for await (const batch of s.movements(c, ctx.batchSize)) {
      for (const m of batch) {
        await sheet.addRow([
          m.date,
          m.document,
          m.reference,
          m.dueDate,
          m.label,
          amount(m.debit, d),
          amount(m.credit, d),
          amount(m.runningBalance, d),
        ]);
      }
      await ctx.wrote(batch.length);
    }
    await sheet.addRow(
      [
        null,
        null,
        null,
        null,
        "Balance due",
        amount(c.debit, d),
        amount(c.credit, d),
        amount(c.endingBalance, d),
      ],
      {
        style: "total",
      },
    );
    await sheet.end();

    const items = openSheet(ctx, {
      name: companySheetName("Open items", { id: c.companyId, name: c.companyName }),
      columns: [
        { header: "Document", width: 20, type: "text" },
        { header: "Reference", width: 18, type: "text" },
        { header: "Date", width: 11, type: "date" },
        { header: "Due date", width: 11, type: "date" },
        { header: "Days overdue", width: 10, type: "integer" },
        { header: "Original amount", width: 16, type: "money", decimals: d },
        { header: "Open amount", width: 16, type: "money", decimals: d },
      ],
      titleRows: title,
    });
    const mine = s.openItems.filter((i) => i.companyId === c.companyId);
    for (const i of mine) {
      await items.addRow([
        i.document,
        i.reference,
        i.date,
        i.dueDate,
        i.daysOverdue,
        amount(i.originalAmount, d),
        amount(i.openAmount, d),
      ]);
    }
    await ctx.wrote(mine.length);
    const aging = s.aging.companies.find((a) => a.companyId === c.companyId);
    const totals = aging?.totals;
    await items.addRow(["Total", null, null, null, null, null, amount(totals?.total ?? "0", d)], {
      style: "total",
    });
    await items.end();

    const summary = openSheet(ctx, {
      name: companySheetName("Aging", { id: c.companyId, name: c.companyName }),
      columns: [
        { header: "Not due", width: 15, type: "money", decimals: d },
        { header: "1–30", width: 15, type: "money", decimals: d },
        { header: "31–60", width: 15, type: "money", decimals: d },
        { header: "61–90", width: 15, type: "money", decimals: d },
        { header: "Over 90", width: 15, type: "money", decimals: d },
        { header: "Total", width: 16, type: "money", decimals: d },
      ],
      titleRows: title,
      autoFilter: false,
    });
    await summary.addRow(
      BUCKETS.map((b) => amount(totals?.[b] ?? "0", d)),
      { style: "bold" },
    );
    await summary.end();
  }
}
