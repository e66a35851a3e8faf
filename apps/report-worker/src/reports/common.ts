import type { Database, Transaction } from "@finanzas/db";
import type { Company } from "@finanzas/ledger";
import type { DecimalCell, SheetOptions, XlsxSheet, XlsxWorkbook } from "../xlsx/index.js";

/** What a report's build is given: one snapshot of the synced copy, the workbook, and a row counter. */
export interface BuildContext {
  trx: Transaction<Database>;
  workbook: XlsxWorkbook;
  /** When the report was requested (its title rows say so). */
  generatedAt: Date;
  /** Rows per sheet before a continuation sheet (Excel's limit unless a test sets less). */
  maxRows?: number | undefined;
  /** Rows fetched from a cursor at once. */
  batchSize?: number | undefined;
  /** Counts data rows written; reports progress and throws once the report was cancelled. */
  wrote(rows: number): Promise<void>;
}

/** Money as the workbook shows it: the exact decimal with the currency's decimals; empty for none. */
export const amount = (value: string | null | undefined, decimals: number): DecimalCell | null =>
  value === null || value === undefined ? null : { value, decimals };

/** The title rows of a sheet: the report's name, what it covers, its filters, when it was made. */
export function titleRows(
  title: string,
  lines: readonly (string | null | undefined | false)[],
  at: Date,
): string[][] {
  return [
    [title],
    ...lines.filter((l): l is string => typeof l === "string").map((l) => [l]),
    [`Generated ${at.toISOString().replace("T", " ").slice(0, 16)} UTC`],
  ];
}

/** "Company: Finanzas ES (EUR)". */
export const companyLine = (c: Pick<Company, "name" | "currency">) =>
  `Company: ${c.name ?? "(no name)"}${c.currency ? ` — amounts in ${c.currency}` : ""}`;

/** A sheet name from a company (each company its own sheet), cut to what Excel allows. */
export const companySheetName = (prefix: string, c: Pick<Company, "id" | "name">) =>
  `${prefix} ${c.name ?? c.id}`.slice(0, 31);

/** Opens a sheet with the report's defaults (frozen header, autofilter) and the build's row limit. */
export function openSheet(ctx: BuildContext, options: SheetOptions): XlsxSheet {
  return ctx.workbook.addSheet({
    freezeHeader: true,
    autoFilter: true,
    ...options,
    ...(ctx.maxRows === undefined ? {} : { maxRows: ctx.maxRows }),
  });
}

/** A sheet that says the report has nothing to show, rather than an empty workbook. */
export async function emptySheet(
  ctx: BuildContext,
  name: string,
  title: string[][],
  message: string,
): Promise<void> {
  const sheet = openSheet(ctx, {
    name,
    columns: [{ header: name, width: 50, type: "text" }],
    titleRows: title,
  });
  await sheet.addRow([message]);
  await sheet.end();
}

/** A list filter for the title rows: "Partners: 10, 11" or nothing. */
export const listLine = (label: string, ids: readonly number[] | undefined) =>
  ids?.length ? `${label}: ${ids.join(", ")}` : null;
