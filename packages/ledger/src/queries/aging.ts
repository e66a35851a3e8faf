import type { AgingQuery, AgingReport } from "@finanzas/contracts";
import { type Database, sql, type Transaction } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import { cursorBatches } from "../snapshot.js";
import { type Db, money, type OpenItemKind, rows, sum0, today } from "../sql.js";
import { companyList, currencyDecimals, partnerNames } from "./companies.js";
import { openItems, type ResidualFilter, residualSource } from "./open-items.js";

const bucketColumns = sql`
  ${sum0(sql`case when days <= 0 then residual end`)} as "notDue",
  ${sum0(sql`case when days between 1 and 30 then residual end`)} as "days1To30",
  ${sum0(sql`case when days between 31 and 60 then residual end`)} as "days31To60",
  ${sum0(sql`case when days between 61 and 90 then residual end`)} as "days61To90",
  ${sum0(sql`case when days > 90 then residual end`)} as "over90",
  ${sum0(sql`residual`)} as "total"`;

interface BucketRow {
  company_id: number;
  partner_id: number | null;
  partner_row: boolean;
  notDue: string;
  days1To30: string;
  days31To60: string;
  days61To90: string;
  over90: string;
  total: string;
}

export type AgingParams = Static<typeof AgingQuery> & {
  /** Only these partners (a report over some customers). */
  partnerIds?: readonly number[] | undefined;
};

/**
 * The aged receivable or payable balance as of a date: per company (in its currency) one row per
 * partner with what it owes not yet due, 1–30, 31–60, 61–90 and over 90 days past due, and the
 * company's totals. Partners by total owed, largest first.
 */
export async function aging(db: Db, q: AgingParams): Promise<AgingReport> {
  const asOf = q.asOf ?? today();
  const kind = q.kind ?? "receivable";
  const companies = await companyList(db, q.companyId);
  const source = await residualSource(db, asOf);
  const filter: ResidualFilter = { companyId: q.companyId, partnerId: q.partnerId, partnerIds: q.partnerIds };
  const grouped = await rows(
    db,
    sql<BucketRow>`select company_id, partner_id, grouping(partner_id) = 0 as partner_row, ${bucketColumns}
      from (${openItems(source, kind, asOf, filter)}) items
      group by grouping sets ((company_id, partner_id), (company_id))`,
  );
  const names = await partnerNames(
    db,
    grouped.filter((r) => r.partner_row && r.partner_id !== null).map((r) => r.partner_id as number),
  );
  const zero = { notDue: "0", days1To30: "0", days31To60: "0", days61To90: "0", over90: "0", total: "0" };
  const buckets = (r: BucketRow) => ({
    notDue: r.notDue,
    days1To30: r.days1To30,
    days31To60: r.days31To60,
    days61To90: r.days61To90,
    over90: r.over90,
    total: r.total,
  });
  return {
    asOf,
    kind,
    companies: companies.map((c) => {
      const mine = grouped.filter((r) => r.company_id === c.id);
      const totals = mine.find((r) => !r.partner_row);
      return {
        companyId: c.id,
        companyName: c.name,
        currency: c.currency,
        totals: totals ? buckets(totals) : zero,
        partners: mine
          .filter((r) => r.partner_row)
          .map((r) => ({
            partnerId: r.partner_id,
            partnerName: r.partner_id === null ? null : (names.get(r.partner_id) ?? null),
            ...buckets(r),
          }))
          .sort((a, b) => Number(b.total) - Number(a.total) || (a.partnerId ?? 0) - (b.partnerId ?? 0)),
      };
    }),
  };
}

/** One open item behind the aged balance: the document, its dates, and what it still owes. */
export interface OpenItem {
  id: number;
  companyId: number;
  partnerId: number | null;
  partnerName: string | null;
  /** The journal entry (invoice, bill, payment) the item belongs to. */
  moveId: number | null;
  document: string | null;
  reference: string | null;
  date: string | null;
  dueDate: string | null;
  /** Days past due as of the date (0 or less: not due yet). */
  daysOverdue: number;
  /** The item's own amount in company currency, signed so that what is owed is positive. */
  originalAmount: string;
  /** What it still owed as of the date, in company currency, signed likewise. */
  openAmount: string;
  /** The item's own amount in its document currency, when that differs from the company's. */
  amountCurrency: string | null;
  currency: string | null;
  /** The company currency (of originalAmount and openAmount). */
  companyCurrency: string | null;
  companyCurrencyDecimals: number;
}

type OpenItemQuery = { kind?: OpenItemKind | undefined; asOf?: string | undefined } & ResidualFilter;

async function openItemQuery(db: Db, q: OpenItemQuery) {
  const asOf = q.asOf ?? today();
  const kind = q.kind ?? "receivable";
  const source = await residualSource(db, asOf);
  const sign = kind === "receivable" ? sql`1` : sql`-1`;
  return sql<OpenItem>`select o.id, o.company_id as "companyId", o.partner_id as "partnerId", p.name as "partnerName",
        l.move_id as "moveId", coalesce(m.name, l.move_name) as document, coalesce(m.ref, l.ref) as reference,
        l.date, o.due as "dueDate", o.days as "daysOverdue",
        ${money(sql`${sign} * l.balance`)} as "originalAmount", ${money(sql`o.residual`)} as "openAmount",
        case when l.currency_id is distinct from l.company_currency_id then ${money(sql`${sign} * l.amount_currency`)} end as "amountCurrency",
        cur.name as currency, ccur.name as "companyCurrency", ${currencyDecimals("ccur")} as "companyCurrencyDecimals"
      from (${openItems(source, kind, asOf, q)}) o
      join odoo.account_move_line l on l.id = o.id
      left join odoo.account_move m on m.id = l.move_id and m._deleted_at is null
      left join odoo.res_partner p on p.id = o.partner_id and p._deleted_at is null
      left join odoo.res_currency cur on cur.id = l.currency_id and cur._deleted_at is null
      left join odoo.res_company co on co.id = o.company_id and co._deleted_at is null
      left join odoo.res_currency ccur on ccur.id = co.currency_id and ccur._deleted_at is null
      order by o.company_id, p.name nulls last, o.partner_id nulls last, o.due, o.id`;
}

/**
 * The open items behind `aging` for the same question, one per journal item, by company, partner,
 * then due date: what a finance user checks a bucket against, and what a statement lists. The open
 * amounts add up, per partner and bucket, to `aging`'s figures.
 */
export async function openItemList(db: Db, q: OpenItemQuery): Promise<OpenItem[]> {
  return rows(db, await openItemQuery(db, q));
}

/** `openItemList` streamed through a server-side cursor, for reports over many items. */
export async function* openItemBatches(
  trx: Transaction<Database>,
  q: OpenItemQuery,
  batchSize?: number,
): AsyncGenerator<OpenItem[]> {
  yield* cursorBatches(trx, await openItemQuery(trx, q), batchSize);
}
