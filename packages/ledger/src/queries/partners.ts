import {
  DEFAULT_PAGE_SIZE,
  type PARTNER_SORTS,
  type Partner,
  type PartnerBalance,
  type PartnerDetail,
  type PartnerQuery,
} from "@finanzas/contracts";
import { sql } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import { NotFoundError } from "../errors.js";
import { PARTNER_SEARCH, searchTextOf } from "../indexes.js";
import { keyset, type SortMap } from "../keyset.js";
import { and, type Db, like, rows, sum0 } from "../sql.js";

/** The searched fields as one text, the same expression as the trigram index's (see indexes.ts). */
const PARTNER_SEARCH_TEXT = sql.raw(`(${searchTextOf(PARTNER_SEARCH, "p")})`);

const SORTS: SortMap<typeof PARTNER_SORTS> = {
  name: { expr: sql`coalesce(p.name, '')`, type: "text" },
  id: { expr: sql`p.id`, type: "integer" },
};

const partnerColumns = sql`p.id, p.name, p.ref, p.vat, p.email, p.is_company as "isCompany",
  p.parent_id as "parentId", p.company_id as "companyId", p.country_id as "countryId", p.active`;

type PartnerRow = Static<typeof Partner>;

export async function listPartners(db: Db, q: Static<typeof PartnerQuery>) {
  const sort = q.sort ?? "name";
  const ks = keyset(sort, SORTS, sql`p.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const where = [sql`p._deleted_at is null`, ks.after];
  if (q.q) where.push(sql`${PARTNER_SEARCH_TEXT} ilike ${like(q.q)}`);
  if (q.kind === "customer") where.push(sql`p.customer_rank > 0`);
  if (q.kind === "vendor") where.push(sql`p.supplier_rank > 0`);
  if (q.companyId !== undefined) where.push(sql`(p.company_id = ${q.companyId} or p.company_id is null)`);
  if (q.active !== undefined) where.push(sql`coalesce(p.active, true) = ${q.active}`);
  const key = sort.replace("-", "") as keyof typeof SORTS;
  const found = await rows(
    db,
    sql<PartnerRow & { _k: string | number }>`select ${partnerColumns}, ${SORTS[key].expr} as "_k"
      from odoo.res_partner p where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found);
}

/**
 * Open receivable and payable of one partner per company, in company currency: the residuals of
 * its posted items on receivable and payable accounts (payable positive when owed to the partner).
 */
export async function partnerBalances(db: Db, partnerId: number): Promise<Static<typeof PartnerBalance>[]> {
  return rows(
    db,
    sql<Static<typeof PartnerBalance>>`
      select l.company_id as "companyId", cur.name as currency,
        ${sum0(sql`case when a.account_type = 'asset_receivable' then l.amount_residual end`)} as receivable,
        ${sum0(sql`case when a.account_type = 'liability_payable' then -l.amount_residual end`)} as payable
      from odoo.account_move_line l
      join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
      join odoo.res_company co on co.id = l.company_id and co._deleted_at is null
      left join odoo.res_currency cur on cur.id = co.currency_id and cur._deleted_at is null
      where l._deleted_at is null and l.partner_id = ${partnerId} and l.parent_state = 'posted'
        and a.account_type in ('asset_receivable', 'liability_payable')
      group by l.company_id, cur.name order by l.company_id`,
  );
}

export async function getPartner(db: Db, id: number): Promise<Static<typeof PartnerDetail>> {
  const [partner] = await rows(
    db,
    sql<PartnerRow>`select ${partnerColumns} from odoo.res_partner p where p.id = ${id} and p._deleted_at is null`,
  );
  if (!partner) throw new NotFoundError(`no partner with id ${id}`);
  return { ...partner, balances: await partnerBalances(db, id) };
}
