/**
 * The synced copy of Odoo, schema `odoo`: one table per model of the ETL's registry
 * (packages/ledger/src/registry.ts), id = the Odoo id, one column per field under Odoo's name,
 * plus `_synced_at` and `_deleted_at` (set when the record is gone from Odoo). Generated from the
 * registry: packages/ledger/test/registry.test.ts fails when they differ (UPDATE_ODOO_TABLES=1
 * rewrites this file). numeric columns arrive as exact decimal strings, dates as 'YYYY-MM-DD'.
 * Columns of fields a given Odoo version lacks (e.g. `checked` before 18) stay NULL.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Odoo `res.company`. */
export interface OdooResCompanyTable {
  id: number;
  name: string | null;
  currency_id: number | null;
  partner_id: number | null;
  parent_id: number | null;
  vat: string | null;
  email: string | null;
  active: boolean | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `res.currency`. */
export interface OdooResCurrencyTable {
  id: number;
  name: string | null;
  full_name: string | null;
  symbol: string | null;
  rounding: string | null;
  decimal_places: number | null;
  position: string | null;
  active: boolean | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `res.partner`. */
export interface OdooResPartnerTable {
  id: number;
  name: string | null;
  complete_name: string | null;
  ref: string | null;
  vat: string | null;
  email: string | null;
  phone: string | null;
  street: string | null;
  city: string | null;
  zip: string | null;
  country_id: number | null;
  country_code: string | null;
  lang: string | null;
  is_company: boolean | null;
  company_type: string | null;
  parent_id: number | null;
  commercial_partner_id: number | null;
  company_id: number | null;
  customer_rank: number | null;
  supplier_rank: number | null;
  active: boolean | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `account.account`. */
export interface OdooAccountAccountTable {
  id: number;
  code: string | null;
  name: string | null;
  account_type: string | null;
  internal_group: string | null;
  currency_id: number | null;
  reconcile: boolean | null;
  company_id: number | null;
  company_ids: number[] | null;
  deprecated: boolean | null;
  active: boolean | null;
  note: string | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `account.journal`. */
export interface OdooAccountJournalTable {
  id: number;
  name: string | null;
  code: string | null;
  type: string | null;
  sequence: number | null;
  default_account_id: number | null;
  currency_id: number | null;
  company_id: number | null;
  active: boolean | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `account.analytic.account`. */
export interface OdooAccountAnalyticAccountTable {
  id: number;
  name: string | null;
  code: string | null;
  plan_id: number | null;
  partner_id: number | null;
  company_id: number | null;
  currency_id: number | null;
  active: boolean | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `account.move`. */
export interface OdooAccountMoveTable {
  id: number;
  name: string | null;
  ref: string | null;
  date: string | null;
  state: string | null;
  move_type: string | null;
  journal_id: number | null;
  company_id: number | null;
  currency_id: number | null;
  company_currency_id: number | null;
  partner_id: number | null;
  commercial_partner_id: number | null;
  invoice_date: string | null;
  invoice_date_due: string | null;
  invoice_origin: string | null;
  payment_reference: string | null;
  payment_state: string | null;
  amount_untaxed: string | null;
  amount_tax: string | null;
  amount_total: string | null;
  amount_residual: string | null;
  amount_untaxed_signed: string | null;
  amount_tax_signed: string | null;
  amount_total_signed: string | null;
  amount_residual_signed: string | null;
  reversed_entry_id: number | null;
  payment_id: number | null;
  origin_payment_id: number | null;
  to_check: boolean | null;
  checked: boolean | null;
  narration: string | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `account.move.line`. */
export interface OdooAccountMoveLineTable {
  id: number;
  move_id: number | null;
  move_name: string | null;
  date: string | null;
  ref: string | null;
  parent_state: string | null;
  journal_id: number | null;
  company_id: number | null;
  company_currency_id: number | null;
  account_id: number | null;
  partner_id: number | null;
  name: string | null;
  display_type: string | null;
  debit: string | null;
  credit: string | null;
  balance: string | null;
  amount_currency: string | null;
  currency_id: number | null;
  quantity: string | null;
  price_unit: string | null;
  price_subtotal: string | null;
  price_total: string | null;
  tax_ids: number[] | null;
  analytic_distribution: Json | null;
  date_maturity: string | null;
  amount_residual: string | null;
  amount_residual_currency: string | null;
  reconciled: boolean | null;
  full_reconcile_id: number | null;
  matching_number: string | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `account.payment`. */
export interface OdooAccountPaymentTable {
  id: number;
  name: string | null;
  date: string | null;
  amount: string | null;
  payment_type: string | null;
  partner_type: string | null;
  partner_id: number | null;
  journal_id: number | null;
  company_id: number | null;
  currency_id: number | null;
  state: string | null;
  move_id: number | null;
  ref: string | null;
  memo: string | null;
  destination_account_id: number | null;
  is_reconciled: boolean | null;
  is_matched: boolean | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

/** Odoo `account.partial.reconcile`. */
export interface OdooAccountPartialReconcileTable {
  id: number;
  debit_move_id: number | null;
  credit_move_id: number | null;
  amount: string | null;
  debit_amount_currency: string | null;
  credit_amount_currency: string | null;
  company_currency_id: number | null;
  debit_currency_id: number | null;
  credit_currency_id: number | null;
  company_id: number | null;
  max_date: string | null;
  full_reconcile_id: number | null;
  exchange_move_id: number | null;
  create_date: Date | null;
  write_date: Date | null;
  _synced_at: Date;
  _deleted_at: Date | null;
}

export interface OdooTables {
  "odoo.res_company": OdooResCompanyTable;
  "odoo.res_currency": OdooResCurrencyTable;
  "odoo.res_partner": OdooResPartnerTable;
  "odoo.account_account": OdooAccountAccountTable;
  "odoo.account_journal": OdooAccountJournalTable;
  "odoo.account_analytic_account": OdooAccountAnalyticAccountTable;
  "odoo.account_move": OdooAccountMoveTable;
  "odoo.account_move_line": OdooAccountMoveLineTable;
  "odoo.account_payment": OdooAccountPaymentTable;
  "odoo.account_partial_reconcile": OdooAccountPartialReconcileTable;
}
