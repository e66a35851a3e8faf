import { sql } from "@finanzas/db";
import { aging, inSnapshot, today } from "@finanzas/ledger";
import type { PyBook, PyCell } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataRows, type Harness, startHarness } from "./harness.js";

/*
 * Every report kind requested as the API requests it, built by the report-worker from data the
 * real ETL synced from the simulator, downloaded from storage and opened by openpyxl: cell types
 * as a user's spreadsheet sees them, and figures checked against the API's aging or against SQL
 * written here independently of the report's queries.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness("reports_kinds");
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const sheetsOf = (book: PyBook, prefix: string) => book.sheets.filter((s) => s.title.startsWith(prefix));
const cents = (v: unknown) => Math.round(Number(v) * 100);
const moneyFormat = (cell: PyCell | null | undefined, decimals = 2) => {
  expect(cell?.dt).toBe("n");
  expect(cell?.fmt).toContain(decimals ? `0.${"0".repeat(decimals)}` : "#,##0");
};

async function build(request: Parameters<Harness["request"]>[0]) {
  const { report } = await h.request(request);
  const done = await h.settle(report.id);
  expect(done.status, done.error ?? "").toBe("succeeded");
  return { report: done, book: await h.open(done) };
}

describe("aged balance", () => {
  it("has the API's aging figures to the cent, per partner, and the open items behind them", async () => {
    const asOf = today();
    const { report, book } = await build({ kind: "aged-balance", params: { type: "receivable", asOf } });
    expect(report.file_name).toBe(`aged-receivables-${asOf}.xlsx`);
    const api = await inSnapshot(h.store.db, { statementTimeoutMs: 30_000 }, (trx) =>
      aging(trx, { kind: "receivable", asOf }),
    );
    expect(book.props).toMatchObject({ title: "Aged balance", creator: "Finanzas" });
    const summaries = sheetsOf(book, "Receivables");
    expect(summaries).toHaveLength(api.companies.length);
    for (const [n, company] of api.companies.entries()) {
      const sheet = summaries[n];
      expect(sheet, company.companyName ?? "").toBeDefined();
      expect(sheet!.freeze).toBeTruthy();
      const rows = dataRows(sheet!);
      const total = rows.at(-1)!;
      expect(total[0]).toBe("Total");
      expect(total.slice(1).map(cents)).toEqual(
        ["notDue", "days1To30", "days31To60", "days61To90", "over90", "total"].map((k) =>
          cents(company.totals[k as keyof typeof company.totals]),
        ),
      );
      expect(rows.length - 1).toBe(company.partners.length);
      for (const [i, p] of company.partners.entries()) {
        expect(rows[i]![0]).toBe(p.partnerName);
        expect(cents(rows[i]![6])).toBe(cents(p.total));
      }
      const headerIndex = sheet!.rows.findIndex((r) => r[0]?.v === "Partner");
      moneyFormat(sheet!.rows[headerIndex + 1]![6]);
    }
    const items = sheetsOf(book, "Open items")[0]!;
    const rows = items.rows.slice(items.rows.findIndex((r) => r[0]?.v === "Partner") + 1, -1);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]![3]?.dt).toBe("d"); // date
    expect(rows[0]![4]?.dt).toBe("d"); // due date
    moneyFormat(rows[0]![7]);
    const company = api.companies[0]!;
    expect(rows.reduce((sum, r) => sum + cents(r[7]?.v), 0)).toBe(cents(company.totals.total));
  });
});

describe("trial balance", () => {
  it("balances to zero, and each account's ending balance is the sum of its posted items", async () => {
    const params = { dateFrom: "2024-01-01", dateTo: "2024-12-31", companyId: 1 };
    const { book } = await build({ kind: "trial-balance", params });
    const sheet = sheetsOf(book, "Trial balance")[0]!;
    const rows = dataRows(sheet);
    const total = rows.at(-1)!;
    expect(total[1]).toBe("Total");
    expect(cents(total[2])).toBe(0);
    expect(cents(total[5])).toBe(0);
    expect(cents(total[6])).toBe(0);
    expect(cents(total[3])).toBe(cents(total[4]));
    // independently: balance-sheet accounts sum everything up to dateTo, income and expense the year
    const { rows: expected } = await sql<{ code: string; ending: string }>`
      select a.code, sum(l.balance)::text as ending from odoo.account_move_line l
      join odoo.account_account a on a.id = l.account_id
      where l._deleted_at is null and l.parent_state = 'posted' and l.company_id = 1 and l.date <= '2024-12-31'
        and (a.internal_group not in ('income', 'expense') or l.date >= '2024-01-01')
      group by a.code having sum(l.balance) <> 0 order by a.code`.execute(h.store.db);
    const byCode = new Map(rows.filter((r) => typeof r[0] === "string").map((r) => [r[0], r[6]]));
    expect(expected.length).toBeGreaterThan(5);
    for (const e of expected) expect(cents(byCode.get(e.code)), e.code).toBe(cents(e.ending));
  });
});

describe("general ledger", () => {
  it("lists every posted item of the period once, with running balances that end at each account's SQL balance", async () => {
    const params = { dateFrom: "2024-01-01", dateTo: "2024-06-30", companyId: 1 };
    const { report, book } = await build({ kind: "general-ledger", params });
    expect(report.file_name).toBe("general-ledger-2024-01-01-to-2024-06-30.xlsx");
    const rows = sheetsOf(book, "General ledger").flatMap(dataRows);
    const items = rows.filter((r) => typeof r[0] === "string" && /^\d{4}-/.test(r[0] as string));
    // section and note lines carry no account: not accounting items
    const { rows: count } = await sql<{ n: number }>`select count(*)::integer as n from odoo.account_move_line
      where _deleted_at is null and parent_state = 'posted' and company_id = 1 and account_id is not null
        and date between '2024-01-01' and '2024-06-30'`.execute(h.store.db);
    expect(items.length).toBe(count[0]!.n);
    expect(report.rows).toBe(count[0]!.n);
    // per account: initial + the items' debit − credit = the running balance of its last item = ending
    let account: string | null = null;
    let running = 0;
    let checked = 0;
    for (const row of rows) {
      if (row[4] === "Initial balance") {
        account = row[1] as string;
        running = cents(row[8]);
      } else if (row[4] === "Ending balance") {
        expect(cents(row[8]), account ?? "").toBe(running);
        checked++;
      } else if (account) {
        running += cents(row[6]) - cents(row[7]);
        expect(cents(row[8])).toBe(running);
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it("continues a sheet past its row limit on the next, losing and doubling nothing", async () => {
    const small = h.startWorker({ maxRowsPerSheet: 40 });
    try {
      await h.worker.close(5_000); // only the small-limit worker takes this one
      const params = { dateFrom: "2024-01-01", dateTo: "2024-03-31", companyId: 1 };
      const { report, book } = await build({ kind: "general-ledger", params });
      const sheets = sheetsOf(book, "General ledger");
      expect(sheets.length).toBeGreaterThan(3);
      expect(sheets[1]!.title).toMatch(/\(2\)$/);
      for (const s of sheets) {
        expect(s.rows.length).toBeLessThanOrEqual(40);
        expect(s.rows.some((r) => r[0]?.v === "Date")).toBe(true); // header repeated
      }
      const items = sheets
        .flatMap(dataRows)
        .filter((r) => typeof r[0] === "string" && /^\d{4}-/.test(r[0] as string));
      expect(items.length).toBe(report.rows);
    } finally {
      h.worker = h.startWorker();
      await small.close(5_000);
    }
  });
});

describe("invoice register and partner statement", () => {
  it("lists the invoices the filters select, with real dates and the documents' currency decimals", async () => {
    const params = { direction: "sale" as const, invoiceDateFrom: "2024-01-01", invoiceDateTo: "2024-12-31" };
    const { book } = await build({ kind: "invoice-register", params });
    const rows = sheetsOf(book, "Invoices").flatMap((s) =>
      s.rows.slice(s.rows.findIndex((r) => r[0]?.v === "Number") + 1),
    );
    const { rows: count } = await sql<{ n: number }>`select count(*)::integer as n from odoo.account_move
      where _deleted_at is null and move_type in ('out_invoice', 'out_refund', 'out_receipt')
        and invoice_date between '2024-01-01' and '2024-12-31'`.execute(h.store.db);
    expect(rows.length).toBe(count[0]!.n);
    expect(rows[0]![2]?.dt).toBe("d");
    moneyFormat(rows[0]![8]);
  });

  it("states a customer's balance due as the sum of its receivable items", async () => {
    const { rows: owing } = await sql<{ partner_id: number; due: string }>`
      select l.partner_id, sum(l.balance)::text as due from odoo.account_move_line l
      join odoo.account_account a on a.id = l.account_id
      where l._deleted_at is null and l.parent_state = 'posted' and a.account_type = 'asset_receivable'
        and l.company_id = 1 and l.partner_id is not null and l.date <= current_date
      group by l.partner_id having sum(l.balance) > 0 order by sum(l.balance) desc limit 1`.execute(
      h.store.db,
    );
    const partner = owing[0]!;
    const { book } = await build({
      kind: "partner-statement",
      params: { partnerId: partner.partner_id, companyId: 1 },
    });
    const statement = sheetsOf(book, "Statement")[0]!;
    expect(statement.rows[1]![0]!.v).toMatch(/^Customer: /);
    const due = dataRows(statement).at(-1)!;
    expect(due[4]).toBe("Balance due");
    expect(cents(due[7])).toBe(cents(partner.due));
    const open = sheetsOf(book, "Open items")[0]!;
    expect(cents(dataRows(open).at(-1)![6])).toBe(cents(partner.due));
  });
});
