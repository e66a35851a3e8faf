import { type Static, type TSchema, Type } from "@sinclair/typebox";
import {
  CurrencyCode,
  Cursor,
  DateString,
  Decimal,
  Limit,
  NullableDate,
  NullableId,
  NullableString,
  OdooId,
  Page,
  Query,
  SearchText,
} from "./http-common.js";

/*
 * Finance reads over the synced copy of Odoo. Money is a decimal string next to its currency
 * code. Amounts of documents (amountTotal, …) are in the document's currency; debit, credit,
 * balance and residuals of journal items, aging and dashboard figures are in the company currency.
 */

const sortOf = <const T extends readonly string[]>(values: T, fallback: T[number]) =>
  Type.Optional(
    Type.Union(
      values.map((v) => Type.Literal(v)),
      { default: fallback, description: `Sort key; a leading '-' sorts descending. Default ${fallback}` },
    ) as unknown as TSchema & { static: T[number] },
  );

const Enum = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  ) as unknown as TSchema & { static: T[number] };

const paging = { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) };

// ── partners ──────────────────────────────────────────────────────────────────────────────────

export const Partner = Type.Object({
  id: OdooId,
  name: NullableString,
  ref: NullableString,
  vat: NullableString,
  email: NullableString,
  isCompany: Type.Union([Type.Boolean(), Type.Null()]),
  parentId: NullableId,
  companyId: NullableId,
  countryId: NullableId,
  active: Type.Union([Type.Boolean(), Type.Null()]),
});

export const PartnerBalance = Type.Object({
  companyId: OdooId,
  currency: CurrencyCode,
  receivable: Decimal,
  payable: Decimal,
});

export const PartnerDetail = Type.Composite([
  Partner,
  Type.Object({
    balances: Type.Array(PartnerBalance, {
      description: "Open receivable and payable per company, in the company currency",
    }),
  }),
]);

export const PARTNER_SORTS = ["name", "-name", "id", "-id"] as const;
export const PartnerQuery = Query({
  q: Type.Optional(SearchText),
  kind: Type.Optional(
    Enum(["customer", "vendor"], "customer: has sales documents; vendor: has purchase documents"),
  ),
  companyId: Type.Optional(OdooId),
  active: Type.Optional(Type.Boolean({ description: "Filter on archived (false) or active (true)" })),
  sort: sortOf(PARTNER_SORTS, "name"),
  ...paging,
});
export const PartnerPage = Page(Partner, "PartnerPage");

// ── invoices and bills ────────────────────────────────────────────────────────────────────────

export const MOVE_TYPES = [
  "out_invoice",
  "out_refund",
  "in_invoice",
  "in_refund",
  "out_receipt",
  "in_receipt",
] as const;
export const MOVE_STATES = ["draft", "posted", "cancel"] as const;
export const PAYMENT_STATES = [
  "not_paid",
  "in_payment",
  "paid",
  "partial",
  "reversed",
  "blocked",
  "invoicing_legacy",
] as const;

export const Invoice = Type.Object({
  id: OdooId,
  name: NullableString,
  moveType: Type.String(),
  state: Type.String(),
  paymentState: NullableString,
  date: NullableDate,
  invoiceDate: NullableDate,
  invoiceDateDue: NullableDate,
  ref: NullableString,
  partnerId: NullableId,
  partnerName: NullableString,
  journalId: NullableId,
  companyId: NullableId,
  currency: Type.Union([CurrencyCode, Type.Null()]),
  amountUntaxed: Type.Union([Decimal, Type.Null()]),
  amountTax: Type.Union([Decimal, Type.Null()]),
  amountTotal: Type.Union([Decimal, Type.Null()]),
  amountResidual: Type.Union([Decimal, Type.Null()]),
});

export const InvoiceLine = Type.Object({
  id: OdooId,
  name: NullableString,
  displayType: NullableString,
  accountId: NullableId,
  accountCode: NullableString,
  accountName: NullableString,
  partnerId: NullableId,
  debit: Type.Union([Decimal, Type.Null()]),
  credit: Type.Union([Decimal, Type.Null()]),
  balance: Type.Union([Decimal, Type.Null()]),
  amountCurrency: Type.Union([Decimal, Type.Null()]),
  currency: Type.Union([CurrencyCode, Type.Null()]),
  amountResidual: Type.Union([Decimal, Type.Null()]),
  reconciled: Type.Union([Type.Boolean(), Type.Null()]),
});

export const InvoiceDetail = Type.Composite([
  Invoice,
  Type.Object({
    companyCurrency: Type.Union([CurrencyCode, Type.Null()], {
      description: "Currency of debit, credit, balance and amountResidual of the lines",
    }),
    lines: Type.Array(InvoiceLine),
  }),
]);

export const INVOICE_SORTS = [
  "date",
  "-date",
  "dueDate",
  "-dueDate",
  "amountTotal",
  "-amountTotal",
  "name",
  "-name",
] as const;
/** The invoice list's filters: also the invoice register report's parameters. */
export const INVOICE_FILTERS = {
  direction: Type.Optional(
    Enum(["sale", "purchase"], "sale: invoices and credit notes; purchase: bills and refunds"),
  ),
  type: Type.Optional(Enum(MOVE_TYPES)),
  state: Type.Optional(Enum(MOVE_STATES)),
  paymentState: Type.Optional(Enum(PAYMENT_STATES)),
  partnerId: Type.Optional(OdooId),
  companyId: Type.Optional(OdooId),
  currency: Type.Optional(Type.String({ pattern: "^[A-Z]{3}$", description: "Currency code, e.g. EUR" })),
  invoiceDateFrom: Type.Optional(DateString),
  invoiceDateTo: Type.Optional(DateString),
  dueDateFrom: Type.Optional(DateString),
  dueDateTo: Type.Optional(DateString),
  overdue: Type.Optional(
    Type.Boolean({ description: "true: posted, unpaid and past due today; false: not overdue" }),
  ),
  q: Type.Optional(SearchText),
};
export const InvoiceQuery = Query({
  ...INVOICE_FILTERS,
  sort: sortOf(INVOICE_SORTS, "-date"),
  ...paging,
});
export const InvoicePage = Page(Invoice, "InvoicePage");

// ── payments ──────────────────────────────────────────────────────────────────────────────────

export const Payment = Type.Object({
  id: OdooId,
  name: NullableString,
  date: NullableDate,
  amount: Type.Union([Decimal, Type.Null()]),
  currency: Type.Union([CurrencyCode, Type.Null()]),
  partnerId: NullableId,
  partnerName: NullableString,
  journalId: NullableId,
  companyId: NullableId,
  paymentType: NullableString,
  partnerType: NullableString,
  state: NullableString,
  moveId: NullableId,
  memo: NullableString,
});
export const PAYMENT_SORTS = ["date", "-date", "amount", "-amount"] as const;
export const PaymentQuery = Query({
  partnerId: Type.Optional(OdooId),
  journalId: Type.Optional(OdooId),
  companyId: Type.Optional(OdooId),
  paymentType: Type.Optional(Enum(["inbound", "outbound"])),
  partnerType: Type.Optional(Enum(["customer", "supplier"])),
  state: Type.Optional(Type.String({ pattern: "^[a-z_]{1,32}$" })),
  dateFrom: Type.Optional(DateString),
  dateTo: Type.Optional(DateString),
  sort: sortOf(PAYMENT_SORTS, "-date"),
  ...paging,
});
export const PaymentPage = Page(Payment, "PaymentPage");

// ── accounts ──────────────────────────────────────────────────────────────────────────────────

export const Account = Type.Object({
  id: OdooId,
  code: NullableString,
  name: NullableString,
  accountType: NullableString,
  reconcile: Type.Union([Type.Boolean(), Type.Null()]),
  currency: Type.Union([CurrencyCode, Type.Null()]),
  companyId: NullableId,
  active: Type.Union([Type.Boolean(), Type.Null()]),
});
export const ACCOUNT_SORTS = ["code", "-code", "id", "-id"] as const;
export const AccountQuery = Query({
  companyId: Type.Optional(OdooId),
  accountType: Type.Optional(Type.String({ pattern: "^[a-z_]{1,40}$", examples: ["asset_receivable"] })),
  q: Type.Optional(SearchText),
  sort: sortOf(ACCOUNT_SORTS, "code"),
  ...paging,
});
export const AccountPage = Page(Account, "AccountPage");

// ── journal items ─────────────────────────────────────────────────────────────────────────────

export const JournalItem = Type.Object({
  id: OdooId,
  moveId: NullableId,
  moveName: NullableString,
  date: NullableDate,
  name: NullableString,
  accountId: NullableId,
  accountCode: NullableString,
  partnerId: NullableId,
  journalId: NullableId,
  companyId: NullableId,
  companyCurrency: Type.Union([CurrencyCode, Type.Null()]),
  debit: Type.Union([Decimal, Type.Null()]),
  credit: Type.Union([Decimal, Type.Null()]),
  balance: Type.Union([Decimal, Type.Null()]),
  amountCurrency: Type.Union([Decimal, Type.Null()]),
  currency: Type.Union([CurrencyCode, Type.Null()]),
  amountResidual: Type.Union([Decimal, Type.Null()]),
  reconciled: Type.Union([Type.Boolean(), Type.Null()]),
  parentState: NullableString,
  displayType: NullableString,
});
export const JOURNAL_ITEM_SORTS = ["date", "-date"] as const;
export const JournalItemQuery = Query({
  accountId: Type.Optional(OdooId),
  partnerId: Type.Optional(OdooId),
  journalId: Type.Optional(OdooId),
  companyId: Type.Optional(OdooId),
  moveId: Type.Optional(OdooId),
  dateFrom: Type.Optional(DateString),
  dateTo: Type.Optional(DateString),
  postedOnly: Type.Optional(Type.Boolean({ default: false, description: "Only items of posted entries" })),
  sort: sortOf(JOURNAL_ITEM_SORTS, "-date"),
  ...paging,
});
export const JournalItemPage = Page(JournalItem, "JournalItemPage");

// ── aging ─────────────────────────────────────────────────────────────────────────────────────

export const AgingBuckets = Type.Object({
  notDue: Decimal,
  days1To30: Decimal,
  days31To60: Decimal,
  days61To90: Decimal,
  over90: Decimal,
  total: Decimal,
});

export const AgingQuery = Query({
  kind: Type.Optional(Enum(["receivable", "payable"], "Default receivable")),
  asOf: Type.Optional(
    Type.Union([DateString], {
      description:
        "Default today (UTC). The report as it stood that day: items dated after it are left out, and each item counts what it still owed then, its amount less the payments and credit notes matched with it on or before that date (Odoo's account.partial.reconcile, by max_date)",
    }),
  ),
  companyId: Type.Optional(OdooId),
  partnerId: Type.Optional(OdooId),
});

export const AgingReport = Type.Object({
  asOf: DateString,
  kind: Enum(["receivable", "payable"]),
  companies: Type.Array(
    Type.Object({
      companyId: OdooId,
      companyName: NullableString,
      currency: Type.Union([CurrencyCode, Type.Null()]),
      totals: AgingBuckets,
      partners: Type.Array(
        Type.Composite([Type.Object({ partnerId: NullableId, partnerName: NullableString }), AgingBuckets]),
      ),
    }),
  ),
});

// ── dashboard ─────────────────────────────────────────────────────────────────────────────────

const Month = Type.String({ pattern: "^[0-9]{4}-(0[1-9]|1[0-2])$", description: "YYYY-MM" });

export const DashboardQuery = Query({
  companyId: Type.Optional(OdooId),
  from: Type.Optional(Type.Union([Month], { description: "First month; default 11 months before `to`" })),
  to: Type.Optional(
    Type.Union([Month], {
      description: "Last month; default the latest month with posted entries up to asOf",
    }),
  ),
  asOf: Type.Optional(
    Type.Union([DateString], {
      description:
        "Date for open and overdue totals and cash balances; default today. Open amounts are as of that date, like the aging report's: payments and credit notes matched later do not reduce them",
    }),
  ),
});

export const Dashboard = Type.Object({
  asOf: DateString,
  from: Month,
  to: Month,
  companies: Type.Array(
    Type.Object({
      companyId: OdooId,
      companyName: NullableString,
      currency: Type.Union([CurrencyCode, Type.Null()]),
      months: Type.Array(
        Type.Object({
          month: Month,
          revenue: Type.Union([Decimal], { description: "Invoiced revenue, untaxed, net of credit notes" }),
          bills: Type.Union([Decimal], { description: "Vendor bills, untaxed, net of refunds" }),
        }),
      ),
      openReceivables: Decimal,
      openPayables: Decimal,
      overdueReceivables: Decimal,
      overduePayables: Decimal,
      cash: Type.Array(
        Type.Object({
          journalId: OdooId,
          journalName: NullableString,
          journalType: Type.String(),
          balance: Type.Union([Decimal], {
            description:
              "The balance of the journal's default account as of asOf, over the posted items of every journal (Odoo's 'balance in GL'), in company currency; 0 without a default account",
          }),
        }),
        { description: "Bank and cash journals" },
      ),
    }),
  ),
});

export type InvoiceQuery = Static<typeof InvoiceQuery>;
export type AgingReport = Static<typeof AgingReport>;
export type Dashboard = Static<typeof Dashboard>;
