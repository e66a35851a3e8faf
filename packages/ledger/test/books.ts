import { createDb, type Db } from "@finanzas/db";
import { createTestDatabase, markSynced, type TestDatabase } from "@finanzas/testing";
import { ensureModelTables, MODEL_NAMES } from "../src/index.js";

/*
 * A small set of books written straight into the odoo tables, with figures worked out by hand, so
 * that the queries are checked against known answers (not against themselves). Company 1 keeps
 * its books in EUR, company 2 in CLP (no decimals).
 *
 * Company 1:
 *   2023-06-01 INV/2023/0001  Azure   430000 Dr 100.00   / 700000 Cr 100.00   due 2023-07-01
 *   2024-01-10 INV/2024/0001  Azure   430000 Dr 121.00   / 700000 Cr 121.00   due 2024-02-09
 *   2024-02-15 PAY/2024/0001  Azure   572000 Dr 100.00   / 430000 Cr 100.00   (matched with INV/2024/0001)
 *   2024-03-05 INV/2024/0002  Bolt    430000 Dr  50.50   / 700000 Cr  50.50   due 2024-04-04
 *   2024-03-10 BILL/2024/0001 Bolt    600000 Dr  30.00   / 400000 Cr  30.00   due 2024-04-09
 *   2024-03-20 INV/2024/0003  Azure   430000 Dr 999.00   / 700000 Cr 999.00   draft
 * Company 2:
 *   2024-01-20 INV/2024/0100  Azure   430000 Dr 5000     / 700000 Cr 5000     due 2024-02-19
 */
export interface Books {
  database: TestDatabase;
  store: Db;
  close(): Promise<void>;
}

export const ACCOUNTS = {
  receivable: 1,
  income: 2,
  bank: 3,
  payable: 4,
  expense: 5,
  receivable2: 11,
  income2: 12,
};
export const PARTNERS = { azure: 10, bolt: 11 };

export async function openBooks(label: string): Promise<Books> {
  const database = await createTestDatabase(label);
  const store = createDb({ url: database.url, max: 4 });
  await ensureModelTables(store.db);
  const q = (text: string, values: unknown[] = []) => store.pool.query(text, values);
  await q(`insert into odoo.res_currency (id, name, decimal_places, rounding) values
    (1, 'EUR', 2, 0.01), (2, 'USD', 2, 0.01), (3, 'CLP', 0, 1)`);
  await q(
    `insert into odoo.res_company (id, name, currency_id) values (1, 'Finanzas ES', 1), (2, 'Finanzas CL', 3)`,
  );
  await q(`insert into odoo.res_partner (id, name, vat, email, street, zip, city, country_code, lang, commercial_partner_id) values
    (10, 'Azure Interior', 'ESB12345678', 'billing@azure.example', 'Calle Mayor 1', '28001', 'Madrid', 'ES', 'es_ES', 10),
    (11, 'Bolt Supplies', null, 'ap@bolt.example', null, null, 'Lyon', 'FR', 'en_US', 11)`);
  await q(`insert into odoo.account_account (id, code, name, account_type, internal_group, company_id) values
    (1, '430000', 'Customers', 'asset_receivable', 'asset', 1),
    (2, '700000', 'Sales', 'income', 'income', 1),
    (3, '572000', 'Bank', 'asset_cash', 'asset', 1),
    (4, '400000', 'Suppliers', 'liability_payable', 'liability', 1),
    (5, '600000', 'Purchases', 'expense', 'expense', 1),
    (11, '430000', 'Clientes', 'asset_receivable', 'asset', 2),
    (12, '700000', 'Ventas', 'income', 'income', 2)`);
  await q(`insert into odoo.account_journal (id, name, code, type, company_id, default_account_id) values
    (1, 'Customer Invoices', 'INV', 'sale', 1, 2), (2, 'Bank', 'BNK1', 'bank', 1, 3),
    (3, 'Vendor Bills', 'BILL', 'purchase', 1, 5), (4, 'Facturas', 'INV', 'sale', 2, 12)`);
  // moves: id, name, date, state, move_type, journal, company, currency, partner, due, total, residual
  const moves: [
    number,
    string,
    string,
    string,
    string,
    number,
    number,
    number,
    number,
    string | null,
    string,
    string,
  ][] = [
    [1, "INV/2023/0001", "2023-06-01", "posted", "out_invoice", 1, 1, 1, 10, "2023-07-01", "100", "100"],
    [2, "INV/2024/0001", "2024-01-10", "posted", "out_invoice", 1, 1, 1, 10, "2024-02-09", "121", "21"],
    [3, "PAY/2024/0001", "2024-02-15", "posted", "entry", 2, 1, 1, 10, null, "100", "0"],
    [4, "INV/2024/0002", "2024-03-05", "posted", "out_invoice", 1, 1, 1, 11, "2024-04-04", "50.5", "50.5"],
    [5, "BILL/2024/0001", "2024-03-10", "posted", "in_invoice", 3, 1, 1, 11, "2024-04-09", "30", "30"],
    [6, "INV/2024/0003", "2024-03-20", "draft", "out_invoice", 1, 1, 1, 10, "2024-04-19", "999", "999"],
    [7, "INV/2024/0100", "2024-01-20", "posted", "out_invoice", 4, 2, 3, 10, "2024-02-19", "5000", "5000"],
  ];
  for (const [
    id,
    name,
    date,
    state,
    type,
    journal,
    company,
    currency,
    partner,
    due,
    total,
    residual,
  ] of moves) {
    await q(
      `insert into odoo.account_move (id, name, date, state, move_type, journal_id, company_id, currency_id,
         partner_id, invoice_date, invoice_date_due, amount_total, amount_residual, payment_state)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $3, $10, $11, $12, 'not_paid')`,
      [id, name, date, state, type, journal, company, currency, partner, due, total, residual],
    );
  }
  // lines: id, move, account, partner, debit, credit, residual, maturity
  const lines: [number, number, number, number, string, string, string, string | null][] = [
    [101, 1, 1, 10, "100", "0", "100", "2023-07-01"],
    [102, 1, 2, 10, "0", "100", "0", null],
    [201, 2, 1, 10, "121", "0", "21", "2024-02-09"],
    [202, 2, 2, 10, "0", "121", "0", null],
    [301, 3, 3, 10, "100", "0", "0", null],
    [302, 3, 1, 10, "0", "100", "0", null],
    [401, 4, 1, 11, "50.5", "0", "50.5", "2024-04-04"],
    [402, 4, 2, 11, "0", "50.5", "0", null],
    [501, 5, 5, 11, "30", "0", "0", null],
    [502, 5, 4, 11, "0", "30", "-30", "2024-04-09"],
    [601, 6, 1, 10, "999", "0", "999", "2024-04-19"],
    [602, 6, 2, 10, "0", "999", "0", null],
    [701, 7, 11, 10, "5000", "0", "5000", "2024-02-19"],
    [702, 7, 12, 10, "0", "5000", "0", null],
  ];
  for (const [id, move, account, partner, debit, credit, residual, maturity] of lines) {
    await q(
      `insert into odoo.account_move_line (id, move_id, move_name, date, ref, parent_state, journal_id, company_id,
         company_currency_id, currency_id, account_id, partner_id, name, display_type, debit, credit, balance,
         amount_currency, amount_residual, date_maturity)
       select $1::integer, m.id, m.name, m.date, null, m.state, m.journal_id, m.company_id, co.currency_id, co.currency_id,
         $3::integer, $4::integer, 'line ' || $1::text, 'product', $5::numeric, $6::numeric, $5::numeric - $6::numeric,
         $5::numeric - $6::numeric, $7::numeric, $8::date
       from odoo.account_move m join odoo.res_company co on co.id = m.company_id where m.id = $2::integer`,
      [id, move, account, partner, debit, credit, residual, maturity],
    );
  }
  await q(`insert into odoo.account_partial_reconcile (id, debit_move_id, credit_move_id, amount, company_id, max_date)
    values (1, 201, 302, 100, 1, '2024-02-15')`);
  // as a finished first sync leaves the cursors: open items are computed only after it
  await markSynced(store.db, MODEL_NAMES);
  return {
    database,
    store,
    async close() {
      await store.close();
      await database.drop();
    },
  };
}
