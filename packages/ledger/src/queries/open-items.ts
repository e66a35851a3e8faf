import { sql } from "@finanzas/db";
import { NotSyncedError, UnanswerableError } from "../errors.js";
import { ACCOUNT_TYPE, and, type Db, type OpenItemKind, rows, today } from "../sql.js";
import { pendingIn, syncCursors } from "../sync-state.js";

/**
 * Where open amounts as of a date come from: the reconciliation history (`history`), or the items'
 * current residuals (`current`): on or after the latest partial's date, where the two agree, and
 * when the connected Odoo does not provide `account.partial.reconcile` (a reduced Odoo-compatible
 * server; the ETL notes it in `etl.cursors.absent_at`), where they only answer for today or later.
 * Until the first sync of every model open items are computed from has finished, reads wait
 * (NotSyncedError): without the history every item would look fully open (after an upgrade that
 * added the model, or during the very first sync), and with part of the journal items (models are
 * synced in parallel: the history is often done first) the totals would miss the rest; wrong totals
 * that look right either way.
 */
export const OPEN_ITEM_SOURCES = [
  "account.account",
  "account.move",
  "account.move.line",
  "account.partial.reconcile",
] as const;

export type ResidualSource = "history" | "current";

export async function residualSource(db: Db, asOf: string): Promise<ResidualSource> {
  // one read of the cursors: an optional model the server lacks counts as synced once a sync has
  // noted it absent
  const cursors = await syncCursors(db, OPEN_ITEM_SOURCES);
  const pending = pendingIn(cursors, OPEN_ITEM_SOURCES);
  if (pending.length) {
    throw new NotSyncedError(
      `the first sync of ${pending.join(", ")} has not finished: open items cannot be computed from part of the books yet; retry when the running sync has finished (GET /api/v1/sync/state)`,
    );
  }
  if (cursors.get("account.partial.reconcile")?.absentAt) {
    if (asOf < today()) {
      throw new UnanswerableError(
        "open amounts as of a past date need the reconciliation history (account.partial.reconcile), which the connected Odoo does not provide: ask for today (omit asOf) or a later date",
        [{ param: "asOf", message: `must be today (${today()}) or later on this Odoo` }],
      );
    }
    return "current";
  }
  // On or after the latest partial's date every partial counts, and each item's residual as of then
  // is Odoo's own `amount_residual` (balance − debit-side + credit-side partials): read it instead of
  // summing the whole history (the usual case, asOf = today; a third of the time at 500 000 items).
  // Two steps down the read index on max_date.
  const [latest] = await rows(
    db,
    sql<{ latest: string | null; undated: boolean }>`select
      (select max(max_date)::text from odoo.account_partial_reconcile where _deleted_at is null) as latest,
      exists (select 1 from odoo.account_partial_reconcile where _deleted_at is null and max_date is null) as undated`,
  );
  if (latest && !latest.undated && (latest.latest === null || latest.latest <= asOf)) return "current";
  return "history";
}

export interface ResidualFilter {
  companyId?: number | undefined;
  partnerId?: number | undefined;
  /** Several partners (a report over some customers); with partnerId, both apply. */
  partnerIds?: readonly number[] | undefined;
}

/**
 * What each journal item of the given kinds still owed as of a date, in company currency: Odoo's
 * own residual computation (balance − the partial reconciliations where the item is the debit side
 * + those where it is the credit side, `account.move.line._compute_amount_residual`) restricted to
 * the partials that counted by then (`max_date` on or before it), as Odoo's aged
 * receivable/payable reports do. Items of posted entries dated on or before the date; the
 * partials are summed once per item in one pass (a hash join, no index needed). For any date on or
 * after every partial's max_date this equals the items' current `amount_residual`.
 *
 * Columns: id, company_id, partner_id, account_type, residual, due (the item's due date).
 */
export const residualsAsOf = (
  source: ResidualSource,
  asOf: string,
  kinds: readonly OpenItemKind[],
  filter: ResidualFilter = {},
) => {
  const where = [
    sql`l._deleted_at is null`,
    sql`l.parent_state = 'posted'`,
    sql`a.account_type = any(${kinds.map((k) => ACCOUNT_TYPE[k])}::text[])`,
    sql`l.date <= ${asOf}::date`,
  ];
  if (filter.companyId !== undefined) where.push(sql`l.company_id = ${filter.companyId}`);
  if (filter.partnerId !== undefined) where.push(sql`l.partner_id = ${filter.partnerId}`);
  if (filter.partnerIds !== undefined)
    where.push(sql`l.partner_id = any(${[...filter.partnerIds]}::integer[])`);
  // `current`: the items' residuals as Odoo keeps them now, exact on or after the latest partial's
  // date (or, without a reconciliation history on this Odoo, for today and later dates;
  // residualSource refuses earlier ones).
  const history = source === "history";
  return sql`select l.id, l.company_id, l.partner_id, a.account_type,
      ${history ? sql`l.balance - coalesce(matched.amount, 0)` : sql`l.amount_residual`} as residual,
      coalesce(l.date_maturity, m.invoice_date_due, l.date) as due
    from odoo.account_move_line l
    join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
    left join odoo.account_move m on m.id = l.move_id and m._deleted_at is null
    ${
      history
        ? sql`left join (
      select line_id, sum(amount) as amount from (
        select p.debit_move_id as line_id, p.amount from odoo.account_partial_reconcile p
          where p._deleted_at is null and p.max_date <= ${asOf}::date
        union all
        select p.credit_move_id, -p.amount from odoo.account_partial_reconcile p
          where p._deleted_at is null and p.max_date <= ${asOf}::date
      ) sides group by line_id
    ) matched on matched.line_id = l.id`
        : sql``
    }
    where ${and(where)}`;
};

/**
 * Receivable or payable items open as of a date (signed so that what is owed is positive), with
 * their days past due. Columns: id, company_id, partner_id, residual, due, days.
 */
export const openItems = (
  source: ResidualSource,
  kind: OpenItemKind,
  asOf: string,
  filter: ResidualFilter = {},
) => {
  const sign = kind === "receivable" ? sql`1` : sql`-1`;
  return sql`select id, company_id, partner_id, ${sign} * residual as residual, due, ${asOf}::date - due as days
    from (${residualsAsOf(source, asOf, [kind], filter)}) items
    where residual <> 0`;
};
