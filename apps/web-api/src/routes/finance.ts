import { type Database, type Kysely, sql } from "@finanzas/db";
import type { AppInstance } from "../app.js";
import {
  aging,
  dashboard,
  getInvoice,
  getPartner,
  listAccounts,
  listInvoices,
  listJournalItems,
  listPartners,
  listPayments,
} from "../finance/reads.js";
import { type MountDeps, mount } from "./mount.js";

/** Finance reads over the synced copy of Odoo; every one cached (see mount). */
export async function financeRoutes(
  app: AppInstance,
  deps: MountDeps & { db: Kysely<Database>; reportStatementTimeoutMs: number },
): Promise<void> {
  const { db } = deps;
  /**
   * The aging report and the dashboard sum whole tables in several statements: they run in one
   * read-only repeatable-read transaction (every part of the answer from the same snapshot, even
   * while a sync commits), each statement bounded by a timeout set for that transaction only
   * (`set_config(…, true)`, safe behind a transaction-mode pooler). A statement that runs away (a
   * lock held by a migration, a plan gone wrong) is stopped by PostgreSQL and answered 503, rather
   * than holding a connection, and the index builds that wait for it, for as long as it takes.
   */
  const bounded = <T>(read: (db: Kysely<Database>) => Promise<T>) =>
    db
      .transaction()
      .setIsolationLevel("repeatable read")
      .setAccessMode("read only")
      .execute(async (trx) => {
        await sql`select set_config('statement_timeout', ${String(deps.reportStatementTimeoutMs)}, true)`.execute(
          trx,
        );
        return read(trx);
      });
  mount(app, deps, "listPartners", async ({ query }) => listPartners(db, query));
  mount(app, deps, "getPartner", async ({ params }) => getPartner(db, params.id));
  mount(app, deps, "listInvoices", async ({ query }) => listInvoices(db, query));
  mount(app, deps, "getInvoice", async ({ params }) => getInvoice(db, params.id));
  mount(app, deps, "listPayments", async ({ query }) => listPayments(db, query));
  mount(app, deps, "listAccounts", async ({ query }) => listAccounts(db, query));
  mount(app, deps, "listJournalItems", async ({ query }) => listJournalItems(db, query));
  mount(app, deps, "aging", async ({ query }) => bounded((trx) => aging(trx, query)));
  mount(app, deps, "dashboard", async ({ query }) => bounded((trx) => dashboard(trx, query)));
}
