import type { AgingReport } from "@finanzas/contracts";
import { type Database, sql, type Transaction } from "@finanzas/db";
import { NotFoundError } from "../errors.js";
import { cursorBatches } from "../snapshot.js";
import { ACCOUNT_TYPE, and, money, rows, today } from "../sql.js";
import { aging, type OpenItem, openItemList } from "./aging.js";
import { checkPeriod } from "./balances.js";
import { companyList } from "./companies.js";

export interface PartnerStatementParams {
  partnerId: number;
  companyId?: number | undefined;
  /** First day of the movements; default: from the first item (initial balance 0). */
  dateFrom?: string | undefined;
  /** Last day of the movements; default asOf. */
  dateTo?: string | undefined;
  /** Date of the open items and the aging summary; default today. */
  asOf?: string | undefined;
}

export interface StatementHeader {
  partnerId: number;
  name: string | null;
  vat: string | null;
  email: string | null;
  street: string | null;
  zip: string | null;
  city: string | null;
  countryCode: string | null;
  /** Odoo's language code of the partner (es_ES, en_US), for the text around the figures. */
  lang: string | null;
}

export interface StatementMovement {
  id: number;
  date: string | null;
  document: string | null;
  reference: string | null;
  dueDate: string | null;
  label: string | null;
  debit: string;
  credit: string;
  /** What the partner owed after this movement: initial balance + debit − credit up to it. */
  runningBalance: string;
}

export interface StatementCompany {
  companyId: number;
  companyName: string | null;
  currency: string | null;
  decimals: number;
  /** What the partner owed before dateFrom. */
  initialBalance: string;
  debit: string;
  credit: string;
  /** What it owed at the end of the period. */
  endingBalance: string;
  movements: number;
}

/**
 * A customer's statement of account: who it is, per company its receivable movements over the
 * period with a running balance, its open items as of a date, and the aging of what it owes (the
 * same figures as `aging` and `openItemList` for that partner). Amounts in company currency;
 * positive is owed by the partner. Movements stream (see `movements`).
 */
export async function partnerStatement(trx: Transaction<Database>, p: PartnerStatementParams) {
  const asOf = p.asOf ?? today();
  const dateTo = p.dateTo ?? asOf;
  const dateFrom = p.dateFrom ?? "0001-01-01";
  checkPeriod({ dateFrom, dateTo });
  const [header] = await rows(
    trx,
    sql<StatementHeader>`select id as "partnerId", name, vat, email, street, zip, city,
        country_code as "countryCode", lang
      from odoo.res_partner where id = ${p.partnerId} and _deleted_at is null`,
  );
  if (!header) throw new NotFoundError(`no partner with id ${p.partnerId}`);
  const companies = await companyList(trx, p.companyId);
  const where = [
    sql`l._deleted_at is null`,
    sql`l.parent_state = 'posted'`,
    sql`l.partner_id = ${p.partnerId}`,
    sql`a.account_type = ${ACCOUNT_TYPE.receivable}`,
    sql`l.date <= ${dateTo}::date`,
  ];
  if (p.companyId !== undefined) where.push(sql`l.company_id = ${p.companyId}`);
  const totals = await rows(
    trx,
    sql<{
      companyId: number;
      initialBalance: string;
      debit: string;
      credit: string;
      endingBalance: string;
      movements: number;
    }>`
      select l.company_id as "companyId",
        coalesce(sum(l.balance) filter (where l.date < ${dateFrom}::date), 0)::text as "initialBalance",
        coalesce(sum(l.debit) filter (where l.date >= ${dateFrom}::date), 0)::text as debit,
        coalesce(sum(l.credit) filter (where l.date >= ${dateFrom}::date), 0)::text as credit,
        coalesce(sum(l.balance), 0)::text as "endingBalance",
        count(*) filter (where l.date >= ${dateFrom}::date)::integer as movements
      from odoo.account_move_line l
      join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
      where ${and(where)}
      group by l.company_id`,
  );
  const sections: StatementCompany[] = companies
    .map((c) => {
      const t = totals.find((r) => r.companyId === c.id);
      return {
        companyId: c.id,
        companyName: c.name,
        currency: c.currency,
        decimals: c.decimals,
        initialBalance: t?.initialBalance ?? "0",
        debit: t?.debit ?? "0",
        credit: t?.credit ?? "0",
        endingBalance: t?.endingBalance ?? "0",
        movements: t?.movements ?? 0,
      };
    })
    .filter((s) => p.companyId !== undefined || s.movements > 0 || s.endingBalance !== "0");
  const openItems: OpenItem[] = await openItemList(trx, {
    kind: "receivable",
    asOf,
    partnerId: p.partnerId,
    companyId: p.companyId,
  });
  const agingReport: AgingReport = await aging(trx, {
    kind: "receivable",
    asOf,
    partnerId: p.partnerId,
    ...(p.companyId === undefined ? {} : { companyId: p.companyId }),
  });

  /** The movements of one company's section, in date order, streamed through a server-side cursor. */
  function movements(section: StatementCompany, batchSize?: number): AsyncGenerator<StatementMovement[]> {
    const query = sql<StatementMovement>`
      select l.id, l.date, coalesce(m.name, l.move_name) as document, coalesce(m.ref, l.ref) as reference,
        coalesce(l.date_maturity, m.invoice_date_due) as "dueDate", l.name as label,
        ${money(sql`coalesce(l.debit, 0)`)} as debit, ${money(sql`coalesce(l.credit, 0)`)} as credit,
        (${section.initialBalance}::numeric + sum(coalesce(l.balance, 0)) over (
          order by l.date, l.id rows between unbounded preceding and current row))::text as "runningBalance"
      from odoo.account_move_line l
      join odoo.account_account a on a.id = l.account_id and a._deleted_at is null
      left join odoo.account_move m on m.id = l.move_id and m._deleted_at is null
      where ${and([...where, sql`l.company_id = ${section.companyId}`, sql`l.date >= ${dateFrom}::date`])}
      order by l.date, l.id`;
    return cursorBatches(trx, query, batchSize);
  }

  return {
    header,
    asOf,
    dateFrom: p.dateFrom ?? null,
    dateTo,
    companies: sections,
    openItems,
    aging: agingReport,
    movements,
  };
}

export type PartnerStatement = Awaited<ReturnType<typeof partnerStatement>>;
