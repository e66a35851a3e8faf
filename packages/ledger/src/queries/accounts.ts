import { type ACCOUNT_SORTS, type Account, type AccountQuery, DEFAULT_PAGE_SIZE } from "@finanzas/contracts";
import { sql } from "@finanzas/db";
import type { Static } from "@sinclair/typebox";
import { keyset, type SortMap } from "../keyset.js";
import { and, type Db, like, rows } from "../sql.js";

const SORTS: SortMap<typeof ACCOUNT_SORTS> = {
  code: { expr: sql`coalesce(a.code, '')`, type: "text" },
  id: { expr: sql`a.id`, type: "integer" },
};

/** An account of a company: Odoo 18+ shares accounts between companies (company_ids); before, one company_id. */
export const accountOfCompany = (companyId: number, alias = "a") =>
  sql`(${sql.ref(`${alias}.company_id`)} = ${companyId} or ${companyId}::integer = any(${sql.ref(`${alias}.company_ids`)}))`;

export async function listAccounts(db: Db, q: Static<typeof AccountQuery>) {
  const sort = q.sort ?? "code";
  const key = sort.replace("-", "") as keyof typeof SORTS;
  const ks = keyset(sort, SORTS, sql`a.id`, q.limit ?? DEFAULT_PAGE_SIZE, q.cursor);
  const where = [sql`a._deleted_at is null`, ks.after];
  if (q.companyId !== undefined) where.push(accountOfCompany(q.companyId));
  if (q.accountType) where.push(sql`a.account_type = ${q.accountType}`);
  if (q.q) {
    const pattern = like(q.q);
    where.push(sql`(a.code ilike ${pattern} or a.name ilike ${pattern})`);
  }
  const found = await rows(
    db,
    sql<Static<typeof Account> & { _k: string | number }>`select a.id, a.code, a.name,
        a.account_type as "accountType", a.reconcile,
        cur.name as currency, coalesce(a.company_id, a.company_ids[1]) as "companyId",
        coalesce(a.active, not a.deprecated, true) as active, ${SORTS[key].expr} as "_k"
      from odoo.account_account a
      left join odoo.res_currency cur on cur.id = a.currency_id and cur._deleted_at is null
      where ${and(where)} order by ${ks.orderBy} limit ${ks.limit}`,
  );
  return ks.page(found);
}
