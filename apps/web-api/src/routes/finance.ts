import type { Database, Kysely } from "@finanzas/db";
import {
  aging,
  dashboard,
  getInvoice,
  getPartner,
  inSnapshot,
  listAccounts,
  listInvoices,
  listJournalItems,
  listPartners,
  listPayments,
} from "@finanzas/ledger";
import type { AppInstance } from "../app-types.js";
import { type MountDeps, mount } from "./mount.js";

/** Finance reads over the synced copy of Odoo (@finanzas/ledger); every one cached (see mount). */
export async function financeRoutes(
  app: AppInstance,
  deps: MountDeps & { db: Kysely<Database>; reportStatementTimeoutMs: number },
): Promise<void> {
  const { db } = deps;
  /**
   * The aging report and the dashboard sum whole tables in several statements: they run in one
   * snapshot, each statement bounded by REPORT_STATEMENT_TIMEOUT_MS (see inSnapshot); a statement
   * stopped by it is answered 503.
   */
  const snapshot = { statementTimeoutMs: deps.reportStatementTimeoutMs };
  mount(app, deps, "listPartners", async ({ query }) => listPartners(db, query));
  mount(app, deps, "getPartner", async ({ params }) => getPartner(db, params.id));
  mount(app, deps, "listInvoices", async ({ query }) => listInvoices(db, query));
  mount(app, deps, "getInvoice", async ({ params }) => getInvoice(db, params.id));
  mount(app, deps, "listPayments", async ({ query }) => listPayments(db, query));
  mount(app, deps, "listAccounts", async ({ query }) => listAccounts(db, query));
  mount(app, deps, "listJournalItems", async ({ query }) => listJournalItems(db, query));
  mount(app, deps, "aging", async ({ query }) => inSnapshot(db, snapshot, (trx) => aging(trx, query)));
  mount(app, deps, "dashboard", async ({ query }) =>
    inSnapshot(db, snapshot, (trx) => dashboard(trx, query)),
  );
}
