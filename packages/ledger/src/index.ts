/**
 * @finanzas/ledger: the synced copy of Odoo as its readers see it.
 *
 * - registry.ts: every Odoo model the ETL copies, its fields and their column types;
 * - tables.ts: the DDL of schema `odoo` (one table per model), run by the etl-worker at start;
 * - indexes.ts: the read indexes the queries need, built by the web-api;
 * - queries/: the finance queries (lists, aging, dashboard, general ledger, trial balance,
 *   partner statement) as plain functions over Kysely, returning domain types and throwing the
 *   domain errors of errors.ts. The web-api, the report-worker and the mailer read through them.
 */

export { sumDecimals } from "./decimal.js";
export * from "./errors.js";
export { createIndexKeeper, INVOICE_SEARCH, PARTNER_SEARCH, searchTextOf } from "./indexes.js";
export { decodeCursor, encodeCursor, type Keyset, keyset, type SortMap, type SortSpec } from "./keyset.js";
export { accountOfCompany, listAccounts } from "./queries/accounts.js";
export { type AgingParams, aging, type OpenItem, openItemBatches, openItemList } from "./queries/aging.js";
export {
  type AccountBalance,
  accountBalances,
  checkPeriod,
  fiscalYearStart,
  type PeriodParams,
} from "./queries/balances.js";
export { type Company, companyList, partnerNames } from "./queries/companies.js";
export { dashboard } from "./queries/dashboard.js";
export {
  type GeneralLedgerEvent,
  type GeneralLedgerItem,
  type GeneralLedgerParams,
  generalLedger,
} from "./queries/general-ledger.js";
export {
  getInvoice,
  type InvoiceRegisterRow,
  invoiceFilters,
  invoiceRegister,
  listInvoices,
} from "./queries/invoices.js";
export { listJournalItems } from "./queries/journal-items.js";
export { OPEN_ITEM_SOURCES, type ResidualSource, residualSource } from "./queries/open-items.js";
export {
  type PartnerStatement,
  type PartnerStatementParams,
  partnerStatement,
  type StatementCompany,
  type StatementHeader,
  type StatementMovement,
} from "./queries/partner-statement.js";
export { getPartner, listPartners, partnerBalances } from "./queries/partners.js";
export { listPayments } from "./queries/payments.js";
export {
  type BalanceTotals,
  type TrialBalance,
  type TrialBalanceParams,
  trialBalance,
} from "./queries/trial-balance.js";
export {
  assertRegistry,
  COLUMN_TYPES,
  columnsOf,
  type FieldGroup,
  type FieldKind,
  type FieldSpec,
  MODEL_NAMES,
  type ModelSpec,
  REGISTRY,
  specOf,
  tableOf,
} from "./registry.js";
export {
  canonicalJson,
  deleteQueuedFiles,
  type FileStore,
  type NewReport,
  normalizeReportParams,
  type QueuedFilesOutcome,
  queueUnusedFiles,
  REPORT_SOURCES,
  type ReportRecord,
  reportFileName,
  reportRequestKey,
  requestReport,
  syncedDataVersion,
  TooManyActiveReportsError,
} from "./report-records.js";
export { cursorBatches, inSnapshot, type SnapshotOptions } from "./snapshot.js";
export { type Db, today } from "./sql.js";
export { firstSyncPending } from "./sync-state.js";
export { ensureModelTables } from "./tables.js";
