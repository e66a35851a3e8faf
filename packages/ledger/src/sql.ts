import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { RawBuilder } from "kysely";

/*
 * Building blocks of the finance queries. Money columns are numeric and arrive as exact decimal
 * strings (see @finanzas/db's type parsers); sums are computed in PostgreSQL, never in JavaScript
 * floats. Every value from a caller is a bound parameter.
 */

/** The database or a transaction over it: every query runs on either. */
export type Db = Kysely<Database>;

/** Plain decimal text of a numeric expression. */
export const money = (expr: RawBuilder<unknown>) => sql`(${expr})::text`;
/** The sum of a numeric expression as decimal text, 0 over no rows. */
export const sum0 = (expr: RawBuilder<unknown>) => sql`coalesce(sum(${expr}), 0)::text`;

/** Today's date in UTC, `YYYY-MM-DD`: the default `asOf`. */
export const today = (): string => new Date().toISOString().slice(0, 10);

/** A case-insensitive substring pattern for `ilike`: the input's own wildcards escaped. */
export const like = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export async function rows<T>(db: Db, query: RawBuilder<T>): Promise<T[]> {
  return (await query.execute(db)).rows;
}

/** `a and b and …` of the given conditions (true when none). */
export const and = (conditions: RawBuilder<unknown>[]): RawBuilder<unknown> =>
  conditions.length ? sql.join(conditions, sql` and `) : sql`true`;

/** Journal entry types of customer documents and vendor documents (Odoo's move_type). */
export const SALE_TYPES = ["out_invoice", "out_refund", "out_receipt"] as const;
export const PURCHASE_TYPES = ["in_invoice", "in_refund", "in_receipt"] as const;
export const INVOICE_TYPES = [...SALE_TYPES, ...PURCHASE_TYPES] as const;

/** Odoo's account types of the receivable and payable accounts. */
export const ACCOUNT_TYPE = { receivable: "asset_receivable", payable: "liability_payable" } as const;
export type OpenItemKind = keyof typeof ACCOUNT_TYPE;
