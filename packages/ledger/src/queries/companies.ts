import { sql } from "@finanzas/db";
import { NotFoundError } from "../errors.js";
import { type Db, rows } from "../sql.js";

export interface Company {
  id: number;
  name: string | null;
  /** The company currency's code (EUR), in which its journal items' debit, credit and balance are. */
  currency: string | null;
  /** Its decimals (2 for EUR, 0 for CLP, 3 for KWD), for figures shown to people. */
  decimals: number;
}

/** Decimals of a currency: Odoo's decimal_places, else from its rounding (0.01 → 2), else 2. */
export const currencyDecimals = (alias: string) =>
  sql.raw(`coalesce(${alias}.decimal_places,
    case when ${alias}.rounding > 0 then greatest(0, ceil(-log(${alias}.rounding::numeric)))::integer end, 2)`);

/** The synced companies (one, when `companyId` is given: a NotFoundError when it is not synced). */
export async function companyList(db: Db, companyId?: number): Promise<Company[]> {
  const found = await rows(
    db,
    sql<Company>`select co.id, co.name, cur.name as currency, ${currencyDecimals("cur")} as decimals
      from odoo.res_company co
      left join odoo.res_currency cur on cur.id = co.currency_id and cur._deleted_at is null
      where co._deleted_at is null ${companyId === undefined ? sql`` : sql`and co.id = ${companyId}`}
      order by co.id`,
  );
  if (companyId !== undefined && found.length === 0) {
    throw new NotFoundError(`no company with id ${companyId}`);
  }
  return found;
}

export async function partnerNames(db: Db, ids: number[]): Promise<Map<number, string | null>> {
  if (!ids.length) return new Map();
  const found = await rows(
    db,
    sql<{
      id: number;
      name: string | null;
    }>`select id, name from odoo.res_partner where id = any(${ids}::integer[]) and _deleted_at is null`,
  );
  return new Map(found.map((r) => [r.id, r.name]));
}
