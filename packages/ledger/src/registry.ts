/**
 * The model registry: every Odoo model the ETL copies, declared once. Each entry names the model
 * and the fields wanted, each with its kind (which fixes its PostgreSQL column type and how a value
 * is mapped). A group made with `oneOf` lists the names one concept has on different Odoo versions
 * (odoo.md: `payment_id` → `origin_payment_id`, `to_check` → `checked`, …): every name gets its own
 * column (named as Odoo names the field), the server fills the one it has, and the group is
 * reported missing only when the server has none of them. Adding a model is one entry here; its
 * table `odoo.<model_with_underscores>` is created at worker start.
 */

export type FieldKind =
  | "char"
  | "text"
  | "html"
  | "selection"
  | "integer"
  | "float"
  | "monetary"
  | "boolean"
  | "date"
  | "datetime"
  | "many2one"
  | "many2many"
  | "json";

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  /** monetary: the field holding the currency its amounts are in (Odoo's `currency_field`). */
  currency?: string;
  /** Read even when fields_get says it is not stored (account.account `code` on 18+, per company). */
  computed?: boolean;
  /**
   * Company-dependent when not stored (account.account `code` on 18+): Odoo answers the value of
   * env.company, so a record of another company reads as empty; it is read again in the context of
   * the record's own company (see `perCompany` in source.ts).
   */
  perCompany?: boolean;
}

/** Alternatives: the same concept under the names different Odoo versions use. */
export interface FieldGroup {
  oneOf: FieldSpec[];
}

export interface ModelSpec {
  model: string;
  fields: (FieldSpec | FieldGroup)[];
  /**
   * Not one of the finance models every Odoo-compatible server must serve: when the server does not
   * have it (or the sync user may not read it), the run notes it and goes on instead of failing.
   */
  optional?: boolean;
}

/** PostgreSQL column type of each kind: money and quantities numeric (never float), many2one the id. */
export const COLUMN_TYPES: Record<FieldKind, string> = {
  char: "text",
  text: "text",
  html: "text",
  selection: "text",
  integer: "integer",
  float: "numeric",
  monetary: "numeric",
  boolean: "boolean",
  date: "date",
  datetime: "timestamptz",
  many2one: "integer",
  many2many: "integer[]",
  json: "jsonb",
};

const f =
  (kind: FieldKind) =>
  (name: string, extra: Omit<FieldSpec, "name" | "kind"> = {}): FieldSpec => ({ name, kind, ...extra });
const char = f("char");
const text = f("text");
const html = f("html");
const sel = f("selection");
const int = f("integer");
const float = f("float");
const bool = f("boolean");
const date = f("date");
const m2o = f("many2one");
const m2m = f("many2many");
const json = f("json");
/** An amount in the currency held by `currency` on the same record. */
const money = (name: string, currency = "currency_id"): FieldSpec => ({ name, kind: "monetary", currency });
const oneOf = (...fields: FieldSpec[]): FieldGroup => ({ oneOf: fields });
const stamps = [f("datetime")("create_date"), f("datetime")("write_date")];

export const REGISTRY: readonly ModelSpec[] = [
  {
    model: "res.company",
    fields: [
      char("name"),
      m2o("currency_id"),
      m2o("partner_id"),
      m2o("parent_id"),
      char("vat"),
      char("email"),
      bool("active"),
      ...stamps,
    ],
  },
  {
    model: "res.currency",
    fields: [
      char("name"),
      char("full_name"),
      char("symbol"),
      float("rounding"),
      int("decimal_places", { computed: true }),
      sel("position"),
      bool("active"),
      ...stamps,
    ],
  },
  {
    model: "res.partner",
    fields: [
      char("name"),
      char("complete_name"),
      char("ref"),
      char("vat"),
      char("email"),
      char("phone"),
      char("street"),
      char("city"),
      char("zip"),
      m2o("country_id"),
      char("country_code"),
      sel("lang"),
      bool("is_company"),
      sel("company_type"),
      m2o("parent_id"),
      m2o("commercial_partner_id"),
      m2o("company_id"),
      int("customer_rank"),
      int("supplier_rank"),
      bool("active"),
      ...stamps,
    ],
  },
  {
    model: "account.account",
    fields: [
      char("code", { computed: true, perCompany: true }),
      char("name"),
      sel("account_type"),
      sel("internal_group"),
      m2o("currency_id"),
      bool("reconcile"),
      oneOf(m2o("company_id"), m2m("company_ids")),
      oneOf(bool("deprecated"), bool("active")),
      text("note"),
      ...stamps,
    ],
  },
  {
    model: "account.journal",
    fields: [
      char("name"),
      char("code"),
      sel("type"),
      int("sequence"),
      m2o("default_account_id"),
      m2o("currency_id"),
      m2o("company_id"),
      bool("active"),
      ...stamps,
    ],
  },
  {
    model: "account.analytic.account",
    fields: [
      char("name"),
      char("code"),
      m2o("plan_id"),
      m2o("partner_id"),
      m2o("company_id"),
      m2o("currency_id"),
      bool("active"),
      ...stamps,
    ],
  },
  {
    model: "account.move",
    fields: [
      char("name"),
      char("ref"),
      date("date"),
      sel("state"),
      sel("move_type"),
      m2o("journal_id"),
      m2o("company_id"),
      m2o("currency_id"),
      m2o("company_currency_id"),
      m2o("partner_id"),
      m2o("commercial_partner_id"),
      date("invoice_date"),
      date("invoice_date_due"),
      char("invoice_origin"),
      char("payment_reference"),
      sel("payment_state"),
      money("amount_untaxed"),
      money("amount_tax"),
      money("amount_total"),
      money("amount_residual"),
      money("amount_untaxed_signed", "company_currency_id"),
      money("amount_tax_signed", "company_currency_id"),
      money("amount_total_signed", "company_currency_id"),
      money("amount_residual_signed", "company_currency_id"),
      m2o("reversed_entry_id"),
      oneOf(m2o("payment_id"), m2o("origin_payment_id")),
      oneOf(bool("to_check"), bool("checked")),
      html("narration"),
      ...stamps,
    ],
  },
  {
    model: "account.move.line",
    fields: [
      m2o("move_id"),
      char("move_name"),
      date("date"),
      char("ref"),
      sel("parent_state"),
      m2o("journal_id"),
      m2o("company_id"),
      m2o("company_currency_id"),
      m2o("account_id"),
      m2o("partner_id"),
      char("name"),
      sel("display_type"),
      money("debit", "company_currency_id"),
      money("credit", "company_currency_id"),
      money("balance", "company_currency_id"),
      money("amount_currency"),
      m2o("currency_id"),
      float("quantity"),
      float("price_unit"),
      money("price_subtotal"),
      money("price_total"),
      m2m("tax_ids"),
      json("analytic_distribution"),
      date("date_maturity"),
      money("amount_residual", "company_currency_id"),
      money("amount_residual_currency"),
      bool("reconciled"),
      m2o("full_reconcile_id"),
      char("matching_number"),
      ...stamps,
    ],
  },
  {
    model: "account.payment",
    fields: [
      char("name"),
      date("date"),
      money("amount"),
      sel("payment_type"),
      sel("partner_type"),
      m2o("partner_id"),
      m2o("journal_id"),
      m2o("company_id"),
      m2o("currency_id"),
      sel("state"),
      m2o("move_id"),
      oneOf(char("ref"), char("memo")),
      m2o("destination_account_id"),
      bool("is_reconciled"),
      bool("is_matched"),
      ...stamps,
    ],
  },
  {
    // Reconciliation history: what was matched between two journal items, and from which date
    // (max_date) it counts; the API's as-of aging subtracts the partials up to a date.
    model: "account.partial.reconcile",
    // Odoo 16–19 always has it; a reduced Odoo-compatible server may not (the API's aging then
    // works from the items' current residuals).
    optional: true,
    fields: [
      m2o("debit_move_id"),
      m2o("credit_move_id"),
      money("amount", "company_currency_id"),
      money("debit_amount_currency", "debit_currency_id"),
      money("credit_amount_currency", "credit_currency_id"),
      m2o("company_currency_id", { computed: true }),
      m2o("debit_currency_id"),
      m2o("credit_currency_id"),
      m2o("company_id"),
      date("max_date"),
      m2o("full_reconcile_id"),
      m2o("exchange_move_id"),
      ...stamps,
    ],
  },
];

export const MODEL_NAMES: readonly string[] = REGISTRY.map((m) => m.model);

/** `account.move.line` → `account_move_line` (the table, in schema `odoo`). */
export const tableOf = (model: string): string => model.replace(/\./g, "_");

/** Every column a model's table has, alternatives included, in declaration order. */
export function columnsOf(spec: ModelSpec): FieldSpec[] {
  return spec.fields.flatMap((field) => ("oneOf" in field ? field.oneOf : [field]));
}

export function specOf(model: string): ModelSpec {
  const spec = REGISTRY.find((m) => m.model === model);
  if (!spec) {
    throw new Error(`unknown model ${model}: the registry has ${MODEL_NAMES.join(", ")}`);
  }
  return spec;
}

/** Checks the registry's own consistency (run by the tests and at start). */
export function assertRegistry(registry: readonly ModelSpec[] = REGISTRY): void {
  const models = new Set<string>();
  for (const spec of registry) {
    if (models.has(spec.model)) throw new Error(`model ${spec.model} is declared twice`);
    models.add(spec.model);
    const names = new Set<string>();
    for (const column of columnsOf(spec)) {
      if (column.name === "id" || column.name.startsWith("_") || !/^[a-z][a-z0-9_]*$/.test(column.name)) {
        throw new Error(`${spec.model}: field name ${column.name} cannot be a column`);
      }
      if (names.has(column.name)) throw new Error(`${spec.model}.${column.name} is declared twice`);
      names.add(column.name);
    }
    if (!names.has("write_date")) throw new Error(`${spec.model} must declare write_date (the cursor)`);
  }
}
