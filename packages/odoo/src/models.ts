/**
 * The finance models the platform reads and the stored fields it expects on each. A field given as
 * a list is satisfied by any of its names: Odoo renamed some between versions (see odoo.md), e.g.
 * `payment_id` (16–17) → `origin_payment_id` (18+), `to_check` → `checked` (inverted),
 * `company_id` → `company_ids` on accounts, `deprecated` → `active` on accounts (19),
 * `ref` → `memo` on payments. The first name is the logical name used by callers.
 */
import type { FieldsMeta } from "./client.js";

export type ExpectedField = string | readonly [string, ...string[]];

export const FINANCE_MODELS = {
  "res.company": ["name", "currency_id", "partner_id", "write_date"],
  "res.currency": ["name", "symbol", "rounding", "decimal_places", "active", "write_date"],
  "res.partner": [
    "name",
    "ref",
    "vat",
    "email",
    "is_company",
    "parent_id",
    "company_id",
    "country_id",
    "active",
    "write_date",
  ],
  "account.account": [
    "code",
    "name",
    "account_type",
    "currency_id",
    "reconcile",
    ["company_id", "company_ids"],
    ["deprecated", "active"],
    "write_date",
  ],
  "account.journal": ["name", "code", "type", "company_id", "currency_id", "active", "write_date"],
  "account.analytic.account": ["name", "code", "plan_id", "company_id", "partner_id", "active", "write_date"],
  "account.move": [
    "name",
    "move_type",
    "state",
    "payment_state",
    "date",
    "invoice_date",
    "invoice_date_due",
    "ref",
    "partner_id",
    "journal_id",
    "company_id",
    "currency_id",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
    ["payment_id", "origin_payment_id"],
    ["to_check", "checked"],
    "write_date",
  ],
  "account.move.line": [
    "move_id",
    "date",
    "name",
    "account_id",
    "partner_id",
    "journal_id",
    "company_id",
    "currency_id",
    "debit",
    "credit",
    "balance",
    "amount_currency",
    "amount_residual",
    "reconciled",
    "full_reconcile_id",
    "analytic_distribution",
    "parent_state",
    "display_type",
    "write_date",
  ],
  "account.payment": [
    "name",
    "date",
    "amount",
    "currency_id",
    "partner_id",
    "journal_id",
    "company_id",
    "payment_type",
    "partner_type",
    "state",
    "move_id",
    ["ref", "memo"],
    "write_date",
  ],
  // The reconciliation history: what each receivable/payable line still owed on any past date.
  "account.partial.reconcile": [
    "debit_move_id",
    "credit_move_id",
    "amount",
    "debit_amount_currency",
    "credit_amount_currency",
    "company_id",
    "max_date",
    "write_date",
  ],
} as const satisfies Record<string, readonly ExpectedField[]>;

export type FinanceModel = keyof typeof FINANCE_MODELS;
export const FINANCE_MODEL_NAMES = Object.keys(FINANCE_MODELS) as FinanceModel[];

export interface ResolvedFields {
  /** Logical name (first alternative) → the name this server uses. */
  present: Record<string, string>;
  /** Expected fields the server has under none of their names (shown as `a|b` for alternatives). */
  missing: string[];
  /** The server's names of the present fields: what to pass as `fields` to searchRead/read. */
  fields: string[];
}

/**
 * Which expected fields exist in `fields_get` metadata, under any of their names. Existence, not
 * `store`, decides: on 18+ `account.account.code` is computed per company yet must be read.
 */
export function resolveFields(fieldsMeta: FieldsMeta, expected: readonly ExpectedField[]): ResolvedFields {
  const present: Record<string, string> = {};
  const missing: string[] = [];
  const fields: string[] = [];
  for (const field of expected) {
    const names: readonly string[] = typeof field === "string" ? [field] : field;
    const found = names.find((name) => fieldsMeta[name] !== undefined);
    const logical = names[0] as string;
    if (found) {
      present[logical] = found;
      fields.push(found);
    } else {
      missing.push(names.join("|"));
    }
  }
  return { present, missing, fields };
}
