import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aging,
  type GeneralLedgerEvent,
  generalLedger,
  InvalidQueryError,
  inSnapshot,
  NotFoundError,
  openItemList,
  partnerStatement,
  trialBalance,
} from "../src/index.js";
import { ACCOUNTS, type Books, openBooks, PARTNERS } from "./books.js";

let books: Books;
beforeAll(async () => {
  books = await openBooks("ledger_reports");
});
afterAll(async () => {
  await books?.close();
});

const snapshot = { statementTimeoutMs: 10_000 };

/** Exact sum of decimal strings, in hundredths (the books have at most two decimals). */
const cents = (values: readonly string[]) => values.reduce((sum, v) => sum + Math.round(Number(v) * 100), 0);

async function ledger(params: Parameters<typeof generalLedger>[1], batchSize?: number) {
  return inSnapshot(books.store.db, snapshot, async (trx) => {
    const events: GeneralLedgerEvent[] = [];
    for await (const event of generalLedger(trx, params, { batchSize })) events.push(event);
    return events;
  });
}

describe("trial balance", () => {
  it("carries balance-sheet accounts over, starts income and expense at the fiscal year, and balances to zero", async () => {
    const { accounts: rows, totals } = await trialBalance(books.store.db, {
      dateFrom: "2024-01-01",
      dateTo: "2024-03-31",
      companyId: 1,
    });
    expect(totals.get(1)).toEqual({
      initialBalance: "0",
      debit: "301.5",
      credit: "301.5",
      periodBalance: "0.0",
      endingBalance: "0.0",
    });
    const byCode = Object.fromEntries(rows.map((r) => [r.code ?? "undistributed", r]));
    expect(Object.keys(byCode)).toEqual(["400000", "430000", "572000", "600000", "700000", "undistributed"]);
    expect(byCode["430000"]).toMatchObject({
      initialBalance: "100",
      debit: "171.5",
      credit: "100",
      periodBalance: "71.5",
      endingBalance: "171.5",
      currency: "EUR",
      decimals: 2,
    });
    // 2023's sale closed into the result: not in 700000's opening, but in its own row
    expect(byCode["700000"]).toMatchObject({ initialBalance: "0", credit: "171.5", endingBalance: "-171.5" });
    expect(byCode.undistributed).toMatchObject({ accountId: null, initialBalance: "-100", debit: "0" });
    for (const column of ["initialBalance", "debit", "credit", "endingBalance"] as const) {
      const total = cents(rows.map((r) => r[column]));
      if (column === "debit" || column === "credit") expect(total).toBe(30_150);
      else expect(total, column).toBe(0);
    }
  });

  it("opens a later period of the same year with that year's income so far", async () => {
    const { accounts: rows } = await trialBalance(books.store.db, {
      dateFrom: "2024-02-01",
      dateTo: "2024-02-29",
      companyId: 1,
    });
    const income = rows.find((r) => r.accountId === ACCOUNTS.income);
    const receivable = rows.find((r) => r.accountId === ACCOUNTS.receivable);
    expect(income).toMatchObject({ initialBalance: "-121", debit: "0", credit: "0", items: 0 });
    expect(receivable).toMatchObject({ initialBalance: "221", credit: "100", endingBalance: "121" });
    expect(cents(rows.map((r) => r.initialBalance))).toBe(0);
  });

  it("covers each company in its own currency, and refuses a period the wrong way round", async () => {
    const { accounts: rows } = await trialBalance(books.store.db, {
      dateFrom: "2024-01-01",
      dateTo: "2024-12-31",
    });
    expect([...new Set(rows.map((r) => `${r.companyId} ${r.currency} ${r.decimals}`))]).toEqual([
      "1 EUR 2",
      "2 CLP 0",
    ]);
    await expect(
      trialBalance(books.store.db, { dateFrom: "2024-02-01", dateTo: "2024-01-01" }),
    ).rejects.toThrow(InvalidQueryError);
  });
});

describe("general ledger", () => {
  it("streams each account's opening, items with a running balance, and ending, in code order", async () => {
    const events = await ledger({ dateFrom: "2024-01-01", dateTo: "2024-03-31", companyId: 1 }, 1);
    const receivable = events.filter((e) => e.account.accountId === ACCOUNTS.receivable);
    expect(receivable[0]).toMatchObject({ type: "account", account: { initialBalance: "100" } });
    const items = receivable.flatMap((e) => (e.type === "items" ? e.items : []));
    // batches of one row: the cursor was fetched again for every row, and no row was lost or doubled
    expect(receivable.filter((e) => e.type === "items")).toHaveLength(3);
    expect(
      items.map((i) => [i.date, i.entry, i.journal, i.partnerName, i.debit, i.credit, i.runningBalance]),
    ).toEqual([
      ["2024-01-10", "INV/2024/0001", "INV", "Azure Interior", "121", "0", "221"],
      ["2024-02-15", "PAY/2024/0001", "BNK1", "Azure Interior", "0", "100", "121"],
      ["2024-03-05", "INV/2024/0002", "INV", "Bolt Supplies", "50.5", "0", "171.5"],
    ]);
    expect(receivable.at(-1)).toMatchObject({ type: "end", account: { endingBalance: "171.5" } });
    const order = events.filter((e) => e.type === "account").map((e) => e.account.code);
    expect(order).toEqual(["400000", "430000", "572000", "600000", "700000"]);
    // every account's last running balance is its ending balance
    for (const start of events.filter((e) => e.type === "account")) {
      const mine = events
        .filter((e) => e.account === start.account)
        .flatMap((e) => (e.type === "items" ? e.items : []));
      expect(mine.at(-1)?.runningBalance ?? start.account.initialBalance).toBe(start.account.endingBalance);
    }
  });

  it("takes drafts only when asked, and filters by partner and journal", async () => {
    const posted = await ledger({
      dateFrom: "2024-03-01",
      dateTo: "2024-03-31",
      accountIds: [ACCOUNTS.receivable],
    });
    const withDraft = await ledger({
      dateFrom: "2024-03-01",
      dateTo: "2024-03-31",
      accountIds: [ACCOUNTS.receivable],
      includeDraft: true,
    });
    const items = (events: GeneralLedgerEvent[]) =>
      events.flatMap((e) => (e.type === "items" ? e.items : []));
    expect(items(posted).map((i) => i.entry)).toEqual(["INV/2024/0002"]);
    expect(items(withDraft).map((i) => [i.entry, i.runningBalance])).toEqual([
      ["INV/2024/0002", "171.5"],
      ["INV/2024/0003", "1170.5"],
    ]);
    const azure = await ledger({
      dateFrom: "2024-01-01",
      dateTo: "2024-12-31",
      partnerId: PARTNERS.azure,
      companyId: 1,
    });
    expect(items(azure).every((i) => i.partnerName === "Azure Interior")).toBe(true);
    const bank = await ledger({ dateFrom: "2024-01-01", dateTo: "2024-12-31", journalIds: [2] });
    expect(items(bank).map((i) => i.entry)).toEqual(["PAY/2024/0001", "PAY/2024/0001"]);
  });
});

describe("open items and the partner statement", () => {
  it("lists the open items behind the aging, adding up to its figures per partner", async () => {
    const asOf = "2024-03-31";
    const items = await openItemList(books.store.db, { kind: "receivable", asOf, companyId: 1 });
    expect(items.map((i) => [i.document, i.dueDate, i.daysOverdue, i.originalAmount, i.openAmount])).toEqual([
      ["INV/2023/0001", "2023-07-01", 274, "100", "100"],
      ["INV/2024/0001", "2024-02-09", 51, "121", "21"],
      ["INV/2024/0002", "2024-04-04", -4, "50.5", "50.5"],
    ]);
    const report = await inSnapshot(books.store.db, snapshot, (trx) =>
      aging(trx, { kind: "receivable", asOf, companyId: 1 }),
    );
    for (const partner of report.companies[0]!.partners) {
      const mine = items.filter((i) => i.partnerId === partner.partnerId).map((i) => i.openAmount);
      expect(cents(mine)).toBe(cents([partner.total]));
    }
    // before the payment, from the reconciliation history: the whole invoice was open
    const before = await openItemList(books.store.db, {
      asOf: "2024-02-10",
      partnerId: PARTNERS.azure,
      companyId: 1,
    });
    expect(before.map((i) => [i.document, i.openAmount])).toEqual([
      ["INV/2023/0001", "100"],
      ["INV/2024/0001", "121"],
    ]);
  });

  it("states a customer's account: header, movements with a running balance, open items and aging", async () => {
    const statement = await inSnapshot(books.store.db, snapshot, async (trx) => {
      const s = await partnerStatement(trx, {
        partnerId: PARTNERS.azure,
        dateFrom: "2024-01-01",
        dateTo: "2024-03-31",
        asOf: "2024-03-31",
      });
      const movements = [];
      for (const section of s.companies) {
        for await (const batch of s.movements(section, 1))
          movements.push(...batch.map((m) => ({ ...m, section: section.companyId })));
      }
      return { ...s, movements };
    });
    expect(statement.header).toMatchObject({
      name: "Azure Interior",
      vat: "ESB12345678",
      city: "Madrid",
      lang: "es_ES",
    });
    expect(
      statement.companies.map((c) => [
        c.companyId,
        c.currency,
        c.initialBalance,
        c.debit,
        c.credit,
        c.endingBalance,
      ]),
    ).toEqual([
      [1, "EUR", "100", "121", "100", "121"],
      [2, "CLP", "0", "5000", "0", "5000"],
    ]);
    expect(statement.movements.map((m) => [m.section, m.document, m.runningBalance])).toEqual([
      [1, "INV/2024/0001", "221"],
      [1, "PAY/2024/0001", "121"],
      [2, "INV/2024/0100", "5000"],
    ]);
    expect(statement.openItems.map((i) => [i.document, i.openAmount])).toEqual([
      ["INV/2023/0001", "100"],
      ["INV/2024/0001", "21"],
      ["INV/2024/0100", "5000"],
    ]);
    expect(statement.aging.companies.map((c) => c.totals.total)).toEqual(["121", "5000"]);
    await expect(
      inSnapshot(books.store.db, snapshot, (trx) => partnerStatement(trx, { partnerId: 999 })),
    ).rejects.toThrow(NotFoundError);
  });
});
