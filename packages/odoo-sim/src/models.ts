import type { PyValue } from "./py.js";

export type OdooVersion = 16 | 17 | 18 | 19;
export const ODOO_VERSIONS: readonly OdooVersion[] = [16, 17, 18, 19];

export type FieldType =
  | "integer"
  | "float"
  | "monetary"
  | "boolean"
  | "char"
  | "text"
  | "html"
  | "selection"
  | "date"
  | "datetime"
  | "many2one"
  | "one2many"
  | "many2many"
  | "json"
  | "binary";

/** What a non-stored computed field is given to compute its value for one row. */
export interface ComputeArgs {
  row: number;
  /** env.company: the first of allowed_company_ids, else the user's main company. */
  company: number;
}

export interface FieldDef {
  name: string;
  type: FieldType;
  string: string;
  /** Reported by fields_get; false for non-stored computed fields (compute is then required). */
  store: boolean;
  relation?: string;
  /** one2many: the many2one on `relation` pointing back. */
  inverse?: string;
  selection?: [string, string][];
  required?: boolean;
  readonly?: boolean;
  companyDependent?: boolean;
  help?: string;
  /** Non-stored fields: the read value (already Odoo-shaped). */
  compute?: (args: ComputeArgs) => PyValue;
  /** one2many: only related rows for which this returns true (e.g. invoice_line_ids). */
  o2mFilter?: (relatedRow: number) => boolean;
  /** Non-stored fields searchable/sortable through a stored one (account.account code on 18+). */
  searchAs?: string;
  /** monetary: the many2one to res.currency its amounts are in (fields_get's `currency_field`). */
  currencyField?: string;
}

export type CompanyRule =
  | { kind: "company_id"; allowFalse: boolean }
  | { kind: "company_ids" }
  | { kind: "self" }
  | { kind: "none" };

export interface ModelDef {
  name: string;
  description: string;
  fields: FieldDef[];
  byName: Map<string, FieldDef>;
  order: string;
  /** `active` if the model has Odoo's archiving field (active_test applies). */
  activeField?: string;
  parentField?: string;
  company: CompanyRule;
  /** true if reading every field (no field list) faults in XML-RPC like real Odoo. */
  unmarshallableWhenAllFields?: boolean;
}

type Opts = Partial<Omit<FieldDef, "name" | "type" | "string">>;

const mk =
  (type: FieldType) =>
  (name: string, string: string, opts: Opts = {}): FieldDef => ({ name, type, string, store: true, ...opts });

export const F = {
  int: mk("integer"),
  float: mk("float"),
  monetary: mk("monetary"),
  bool: mk("boolean"),
  char: mk("char"),
  text: mk("text"),
  html: mk("html"),
  date: mk("date"),
  datetime: mk("datetime"),
  json: mk("json"),
  binary: mk("binary"),
  sel: (name: string, string: string, selection: [string, string][], opts: Opts = {}): FieldDef => ({
    name,
    type: "selection",
    string,
    store: true,
    selection,
    ...opts,
  }),
  m2o: (name: string, string: string, relation: string, opts: Opts = {}): FieldDef => ({
    name,
    type: "many2one",
    string,
    store: true,
    relation,
    ...opts,
  }),
  o2m: (name: string, string: string, relation: string, inverse: string, opts: Opts = {}): FieldDef => ({
    name,
    type: "one2many",
    string,
    store: true,
    relation,
    inverse,
    ...opts,
  }),
  m2m: (name: string, string: string, relation: string, opts: Opts = {}): FieldDef => ({
    name,
    type: "many2many",
    string,
    store: true,
    relation,
    ...opts,
  }),
};

export const MOVE_TYPES: [string, string][] = [
  ["entry", "Journal Entry"],
  ["out_invoice", "Customer Invoice"],
  ["out_refund", "Customer Credit Note"],
  ["in_invoice", "Vendor Bill"],
  ["in_refund", "Vendor Credit Note"],
  ["out_receipt", "Sales Receipt"],
  ["in_receipt", "Purchase Receipt"],
];

export const ACCOUNT_TYPES: [string, string][] = [
  ["asset_receivable", "Receivable"],
  ["asset_cash", "Bank and Cash"],
  ["asset_current", "Current Assets"],
  ["asset_non_current", "Non-current Assets"],
  ["asset_prepayments", "Prepayments"],
  ["asset_fixed", "Fixed Assets"],
  ["liability_payable", "Payable"],
  ["liability_credit_card", "Credit Card"],
  ["liability_current", "Current Liabilities"],
  ["liability_non_current", "Non-current Liabilities"],
  ["equity", "Equity"],
  ["equity_unaffected", "Current Year Earnings"],
  ["income", "Income"],
  ["income_other", "Other Income"],
  ["expense", "Expenses"],
  ["expense_depreciation", "Depreciation"],
  ["expense_direct_cost", "Cost of Revenue"],
  ["off_balance", "Off-Balance Sheet"],
];

export function paymentStates(version: OdooVersion): [string, string][] {
  const base: [string, string][] = [
    ["not_paid", "Not Paid"],
    ["in_payment", "In Payment"],
    ["paid", "Paid"],
    ["partial", "Partially Paid"],
    ["reversed", "Reversed"],
  ];
  if (version >= 18) base.push(["blocked", "Blocked"]);
  base.push(["invoicing_legacy", "Invoicing App Legacy"]);
  return base;
}

export function paymentRecordStates(version: OdooVersion): [string, string][] {
  return version >= 18
    ? [
        ["draft", "Draft"],
        ["in_process", "In Process"],
        ["paid", "Paid"],
        ["canceled", "Canceled"],
        ["rejected", "Rejected"],
      ]
    : [
        ["draft", "Draft"],
        ["posted", "Posted"],
        ["cancel", "Cancelled"],
      ];
}

/** Hooks the store provides so that non-stored fields can be computed. */
export type ComputeHooks = Record<string, Record<string, (args: ComputeArgs) => PyValue>>;

/**
 * Field sets per Odoo version. Non-stored computed fields get their `compute` from `hooks`
 * (`hooks[model][field]`), so this file stays a plain description of each model.
 */
export function buildModels(version: OdooVersion, hooks: ComputeHooks): Map<string, ModelDef> {
  const hook = (model: string, field: string) => {
    const fn = hooks[model]?.[field];
    if (!fn) throw new Error(`no compute for ${model}.${field}`);
    return fn;
  };
  const computed = (model: string, def: FieldDef): FieldDef => ({
    ...def,
    store: false,
    readonly: true,
    compute: hook(model, def.name),
  });

  const models: Omit<ModelDef, "byName">[] = [];

  models.push({
    name: "res.company",
    description: "Companies",
    order: "sequence, name",
    activeField: "active",
    company: { kind: "self" },
    fields: [
      F.char("name", "Company Name", { required: true }),
      F.int("sequence", "Sequence"),
      F.m2o("partner_id", "Partner", "res.partner", { required: true }),
      F.m2o("currency_id", "Currency", "res.currency", { required: true }),
      F.m2o("parent_id", "Parent Company", "res.company"),
      F.char("vat", "Tax ID"),
      F.char("email", "Email"),
      F.bool("active", "Active"),
    ],
  });

  models.push({
    name: "res.users",
    description: "User",
    order: "name, login",
    activeField: "active",
    company: { kind: "none" },
    fields: [
      F.char("name", "Name", { required: true }),
      F.char("login", "Login", { required: true }),
      F.m2o("partner_id", "Related Partner", "res.partner", { required: true }),
      F.m2o("company_id", "Company", "res.company", { required: true }),
      F.m2m("company_ids", "Companies", "res.company"),
      F.bool("active", "Active"),
    ],
  });

  models.push({
    name: "res.currency",
    description: "Currency",
    order: "active desc, name",
    activeField: "active",
    company: { kind: "none" },
    fields: [
      F.char("name", "Currency", { required: true, help: "Currency Code (ISO 4217)" }),
      F.char("full_name", "Name"),
      F.char("symbol", "Symbol", { required: true }),
      F.float("rounding", "Rounding Factor"),
      computed("res.currency", F.int("decimal_places", "Decimal Places")),
      F.sel("position", "Symbol Position", [
        ["after", "After Amount"],
        ["before", "Before Amount"],
      ]),
      F.char("currency_unit_label", "Currency Unit"),
      computed("res.currency", F.float("rate", "Current Rate")),
      F.bool("active", "Active"),
    ],
  });

  // Countries: a fixed list (ids 1..n), like the records Odoo's base module installs.
  models.push({
    name: "res.country",
    description: "Country",
    order: "name",
    company: { kind: "none" },
    fields: [
      F.char("name", "Country Name", { required: true, help: "The full name of the country." }),
      F.char("code", "Country Code", {
        help: "The ISO country code in two chars. \nYou can use this field for quick search.",
      }),
      F.m2o("currency_id", "Currency", "res.currency"),
      F.int("phone_code", "Country Calling Code"),
    ],
  });

  models.push({
    name: "res.partner",
    description: "Contact",
    order: "complete_name ASC, id DESC",
    activeField: "active",
    parentField: "parent_id",
    company: { kind: "company_id", allowFalse: true },
    fields: [
      F.char("name", "Name"),
      F.char("complete_name", "Complete Name", { readonly: true }),
      F.m2o("parent_id", "Related Company", "res.partner"),
      F.o2m("child_ids", "Contact", "res.partner", "parent_id"),
      F.m2o("commercial_partner_id", "Commercial Entity", "res.partner", { readonly: true }),
      F.char("ref", "Reference"),
      F.char("vat", "Tax ID"),
      F.char("email", "Email"),
      F.char("phone", "Phone"),
      F.char("street", "Street"),
      F.char("city", "City"),
      F.char("zip", "Zip"),
      F.m2o("country_id", "Country", "res.country"),
      // related to country_id.code in Odoo (stored here, kept equal to the country's code)
      F.char("country_code", "Country Code", { readonly: true }),
      F.sel("lang", "Language", [
        ["en_US", "English (US)"],
        ["es_ES", "Spanish / Español"],
        ["de_DE", "German / Deutsch"],
        ["fr_FR", "French / Français"],
        ["pl_PL", "Polish / Język polski"],
      ]),
      F.bool("is_company", "Is a Company"),
      F.sel("company_type", "Company Type", [
        ["person", "Individual"],
        ["company", "Company"],
      ]),
      F.m2o("company_id", "Company", "res.company"),
      F.int("customer_rank", "Customer Rank"),
      F.int("supplier_rank", "Supplier Rank"),
      F.text("comment", "Notes"),
      F.bool("active", "Active"),
    ],
  });

  const accountFields: FieldDef[] = [
    F.char("name", "Account Name", { required: true }),
    version >= 18
      ? { ...computed("account.account", F.char("code", "Code")), searchAs: "code_store" }
      : F.char("code", "Code", { required: true }),
    F.sel("account_type", "Type", ACCOUNT_TYPES, { required: true }),
    F.sel("internal_group", "Internal Group", [
      ["equity", "Equity"],
      ["asset", "Asset"],
      ["liability", "Liability"],
      ["income", "Income"],
      ["expense", "Expense"],
      ["off_balance", "Off Balance"],
    ]),
    F.bool("reconcile", "Allow Reconciliation"),
    F.m2o("currency_id", "Account Currency", "res.currency"),
    version >= 18
      ? F.m2m("company_ids", "Companies", "res.company", { required: true })
      : F.m2o("company_id", "Company", "res.company", { required: true }),
    version >= 19 ? F.bool("active", "Active") : F.bool("deprecated", "Deprecated"),
    F.text("note", "Internal Notes"),
  ];
  if (version >= 18)
    accountFields.splice(2, 0, F.char("code_store", "Code Store", { companyDependent: true }));
  models.push({
    name: "account.account",
    description: "Account",
    order: version >= 18 ? "code, id" : "code, company_id",
    ...(version >= 19 ? { activeField: "active" } : {}),
    company: version >= 18 ? { kind: "company_ids" } : { kind: "company_id", allowFalse: false },
    fields: accountFields,
  });

  models.push({
    name: "account.journal",
    description: "Journal",
    order: "sequence, type, code",
    activeField: "active",
    company: { kind: "company_id", allowFalse: false },
    fields: [
      F.char("name", "Journal Name", { required: true }),
      F.char("code", "Short Code", { required: true }),
      F.sel(
        "type",
        "Type",
        [
          ["sale", "Sales"],
          ["purchase", "Purchase"],
          ["cash", "Cash"],
          ["bank", "Bank"],
          ["general", "Miscellaneous"],
        ],
        { required: true },
      ),
      F.int("sequence", "Sequence"),
      F.m2o("default_account_id", "Default Account", "account.account"),
      F.m2o("currency_id", "Currency", "res.currency"),
      F.m2o("company_id", "Company", "res.company", { required: true }),
      F.bool("active", "Active"),
    ],
  });

  models.push({
    name: "account.analytic.account",
    description: "Analytic Account",
    order: "plan_id, name asc",
    activeField: "active",
    company: { kind: "company_id", allowFalse: true },
    fields: [
      F.char("name", "Analytic Account", { required: true }),
      F.char("code", "Reference"),
      F.m2o("partner_id", "Customer", "res.partner"),
      F.m2o("company_id", "Company", "res.company"),
      F.m2o("currency_id", "Currency", "res.currency", { readonly: true }),
      F.bool("active", "Active"),
    ],
  });

  const moveFields: FieldDef[] = [
    F.char("name", "Number", { readonly: false }),
    F.char("ref", "Reference"),
    F.date("date", "Date", { required: true }),
    F.sel(
      "state",
      "Status",
      [
        ["draft", "Draft"],
        ["posted", "Posted"],
        ["cancel", "Cancelled"],
      ],
      { required: true, readonly: true },
    ),
    F.sel("move_type", "Type", MOVE_TYPES, { required: true, readonly: true }),
    F.m2o("journal_id", "Journal", "account.journal", { required: true }),
    F.m2o("company_id", "Company", "res.company", { readonly: true }),
    F.m2o("currency_id", "Currency", "res.currency", { required: true }),
    F.m2o("company_currency_id", "Company Currency", "res.currency", { readonly: true }),
    F.m2o("partner_id", "Partner", "res.partner"),
    F.m2o("commercial_partner_id", "Commercial Entity", "res.partner", { readonly: true }),
    F.o2m("line_ids", "Journal Items", "account.move.line", "move_id"),
    F.o2m("invoice_line_ids", "Invoice lines", "account.move.line", "move_id"),
    F.date("invoice_date", "Invoice/Bill Date"),
    F.date("invoice_date_due", "Due Date"),
    F.char("invoice_origin", "Origin"),
    F.char("payment_reference", "Payment Reference"),
    F.sel("payment_state", "Payment Status", paymentStates(version), { readonly: true }),
    F.monetary("amount_untaxed", "Untaxed Amount", { readonly: true }),
    F.monetary("amount_tax", "Tax", { readonly: true }),
    F.monetary("amount_total", "Total", { readonly: true }),
    F.monetary("amount_residual", "Amount Due", { readonly: true }),
    F.monetary("amount_untaxed_signed", "Untaxed Amount Signed", { readonly: true }),
    F.monetary("amount_tax_signed", "Tax Signed", { readonly: true }),
    F.monetary("amount_total_signed", "Total Signed", { readonly: true }),
    F.monetary("amount_residual_signed", "Amount Due Signed", { readonly: true }),
    F.m2o("reversed_entry_id", "Reversal of", "account.move", { readonly: true }),
    version >= 18
      ? F.m2o("origin_payment_id", "Payment", "account.payment")
      : F.m2o("payment_id", "Payment", "account.payment"),
    version >= 18 ? F.bool("checked", "Checked") : F.bool("to_check", "To Check"),
    F.html("narration", "Terms and Conditions"),
    computed("account.move", F.binary("tax_totals", "Invoice Totals")),
  ];
  models.push({
    name: "account.move",
    description: "Journal Entry",
    order: "date desc, name desc, id desc",
    company: { kind: "company_id", allowFalse: false },
    unmarshallableWhenAllFields: version === 16,
    fields: moveFields,
  });

  const lineFields: FieldDef[] = [
    F.m2o("move_id", "Journal Entry", "account.move", { required: true, readonly: true }),
    F.char("move_name", "Number", { readonly: true }),
    F.date("date", "Date", { readonly: true }),
    F.char("ref", "Reference", { readonly: true }),
    F.sel(
      "parent_state",
      "Status",
      [
        ["draft", "Draft"],
        ["posted", "Posted"],
        ["cancel", "Cancelled"],
      ],
      { readonly: true },
    ),
    F.m2o("journal_id", "Journal", "account.journal", { readonly: true }),
    F.m2o("company_id", "Company", "res.company", { readonly: true }),
    F.m2o("company_currency_id", "Company Currency", "res.currency", { readonly: true }),
    F.m2o("account_id", "Account", "account.account"),
    F.m2o("partner_id", "Partner", "res.partner"),
    F.char("name", "Label"),
    F.sel("display_type", "Display Type", [
      ["product", "Product"],
      ["cogs", "Cost of Goods Sold"],
      ["tax", "Tax"],
      ["discount", "Discount"],
      ["rounding", "Rounding"],
      ["payment_term", "Payment Term"],
      ["line_section", "Section"],
      ["line_note", "Note"],
      ["epd", "Early Payment Discount"],
    ]),
    F.monetary("debit", "Debit"),
    F.monetary("credit", "Credit"),
    F.monetary("balance", "Balance"),
    F.monetary("amount_currency", "Amount in Currency"),
    F.m2o("currency_id", "Currency", "res.currency", { required: true }),
    F.float("quantity", "Quantity"),
    F.float("price_unit", "Unit Price"),
    F.monetary("price_subtotal", "Subtotal", { readonly: true }),
    F.monetary("price_total", "Total", { readonly: true }),
    F.m2m("tax_ids", "Taxes", "account.tax"),
    F.json("analytic_distribution", "Analytic Distribution"),
    F.date("date_maturity", "Due Date"),
    F.monetary("amount_residual", "Residual Amount", { readonly: true }),
    F.monetary("amount_residual_currency", "Residual Amount in Currency", { readonly: true }),
    F.bool("reconciled", "Reconciled", { readonly: true }),
    F.m2o("full_reconcile_id", "Matching", "account.full.reconcile", { readonly: true }),
    version >= 17
      ? F.char("matching_number", "Matching #", { readonly: true })
      : computed("account.move.line", F.char("matching_number", "Matching #")),
  ];
  if (version <= 17) lineFields.push(F.m2o("payment_id", "Originator Payment", "account.payment"));
  if (version === 17)
    lineFields.push(computed("account.move.line", F.binary("compute_all_tax", "Compute All Tax")));
  models.push({
    name: "account.move.line",
    description: "Journal Item",
    order: "date desc, move_name desc, id",
    company: { kind: "company_id", allowFalse: false },
    unmarshallableWhenAllFields: version === 17,
    fields: lineFields,
  });

  models.push({
    name: "account.payment",
    description: "Payments",
    order: "date desc, name desc",
    company: { kind: "company_id", allowFalse: false },
    fields: [
      F.char("name", "Number", { readonly: true }),
      F.date("date", "Date", { required: true }),
      F.monetary("amount", "Amount"),
      F.sel(
        "payment_type",
        "Payment Type",
        [
          ["outbound", "Send"],
          ["inbound", "Receive"],
        ],
        { required: true },
      ),
      F.sel(
        "partner_type",
        "Partner Type",
        [
          ["customer", "Customer"],
          ["supplier", "Vendor"],
        ],
        { required: true },
      ),
      F.m2o("partner_id", "Customer/Vendor", "res.partner"),
      F.m2o("journal_id", "Journal", "account.journal", { required: true }),
      F.m2o("company_id", "Company", "res.company", { readonly: true }),
      F.m2o("currency_id", "Currency", "res.currency"),
      F.sel("state", "Status", paymentRecordStates(version), { required: true, readonly: true }),
      F.m2o("move_id", "Journal Entry", "account.move", { readonly: true }),
      version >= 18 ? F.char("memo", "Memo") : F.char("ref", "Reference"),
      F.m2o("destination_account_id", "Destination Account", "account.account"),
      F.bool("is_reconciled", "Is Reconciled", { readonly: true }),
      F.bool("is_matched", "Is Matched With a Bank Statement", { readonly: true }),
    ],
  });

  // Reconciliation history: one record per matching of a debit line with a credit line. Its fields
  // are the same from 16 to 19 as far as the external API shows them (16 computes the two line
  // currencies with compute methods, 17+ declares them related; both stored and read-only).
  models.push({
    name: "account.partial.reconcile",
    description: "Partial Reconcile",
    order: "id",
    company: { kind: "company_id", allowFalse: false },
    fields: [
      F.m2o("debit_move_id", "Debit Move", "account.move.line", { required: true }),
      F.m2o("credit_move_id", "Credit Move", "account.move.line", { required: true }),
      F.m2o("full_reconcile_id", "Full Reconcile", "account.full.reconcile"),
      F.m2o("exchange_move_id", "Exchange Move", "account.move"),
      computed(
        "account.partial.reconcile",
        F.m2o("company_currency_id", "Company Currency", "res.currency", {
          help: "Utility field to express amount currency",
        }),
      ),
      F.m2o("debit_currency_id", "Currency of the debit journal item.", "res.currency", { readonly: true }),
      F.m2o("credit_currency_id", "Currency of the credit journal item.", "res.currency", { readonly: true }),
      F.monetary("amount", "Amount", {
        currencyField: "company_currency_id",
        help: "Always positive amount concerned by this matching expressed in the company currency.",
      }),
      F.monetary("debit_amount_currency", "Debit Amount Currency", {
        currencyField: "debit_currency_id",
        help: "Always positive amount concerned by this matching expressed in the debit line foreign currency.",
      }),
      F.monetary("credit_amount_currency", "Credit Amount Currency", {
        currencyField: "credit_currency_id",
        help: "Always positive amount concerned by this matching expressed in the credit line foreign currency.",
      }),
      F.m2o("company_id", "Company", "res.company"),
      F.date("max_date", "Max Date of Matched Lines", { readonly: true }),
    ],
  });

  // A full reconciliation groups every journal item matched together (and their partials) once
  // all of them are settled. Odoo 16 names it from the `account.reconcile` sequence ("A1", "A2",
  // …); 17+ dropped the name field (no _rec_name: the display name is "<model>,<id>").
  models.push({
    name: "account.full.reconcile",
    description: "Full Reconcile",
    order: "id",
    company: { kind: "none" },
    fields: [
      ...(version === 16 ? [F.char("name", "Number", { required: true })] : []),
      F.o2m(
        "partial_reconcile_ids",
        "Reconciliation Parts",
        "account.partial.reconcile",
        "full_reconcile_id",
      ),
      F.o2m("reconciled_line_ids", "Matched Journal Items", "account.move.line", "full_reconcile_id"),
      F.m2o("exchange_move_id", "Exchange Move", "account.move"),
    ],
  });

  const out = new Map<string, ModelDef>();
  for (const m of models) {
    const fields: FieldDef[] = [
      F.int("id", "ID", { readonly: true }),
      ...m.fields,
      computed(m.name, F.char("display_name", "Display Name")),
      F.m2o("create_uid", "Created by", "res.users", { readonly: true }),
      F.datetime("create_date", "Created on", { readonly: true }),
      F.m2o("write_uid", "Last Updated by", "res.users", { readonly: true }),
      F.datetime("write_date", "Last Updated on", { readonly: true }),
    ];
    out.set(m.name, { ...m, fields, byName: new Map(fields.map((f) => [f.name, f])) });
  }
  return out;
}
