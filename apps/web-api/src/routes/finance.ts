import type { Database, Kysely } from "@finanzas/db";
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
  deps: MountDeps & { db: Kysely<Database> },
): Promise<void> {
  const { db } = deps;
  mount(app, deps, "listPartners", async ({ query }) => listPartners(db, query));
  mount(app, deps, "getPartner", async ({ params }) => getPartner(db, params.id));
  mount(app, deps, "listInvoices", async ({ query }) => listInvoices(db, query));
  mount(app, deps, "getInvoice", async ({ params }) => getInvoice(db, params.id));
  mount(app, deps, "listPayments", async ({ query }) => listPayments(db, query));
  mount(app, deps, "listAccounts", async ({ query }) => listAccounts(db, query));
  mount(app, deps, "listJournalItems", async ({ query }) => listJournalItems(db, query));
  mount(app, deps, "aging", async ({ query }) => aging(db, query));
  mount(app, deps, "dashboard", async ({ query }) => dashboard(db, query));
}
