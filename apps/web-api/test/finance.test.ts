import { sql } from "@finanzas/db";
import { holdFirstSync } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Etl, startEtl } from "./etl.js";
import { auth, startTestApp, type TestApp } from "./helpers.js";

/*
 * Finance reads, sync control and the cache over data synced from the Odoo simulator by the real
 * ETL (in-process consumer), with every expected figure recomputed here in SQL on the same tables.
 */

let t: TestApp;
let etl: Etl;
let firstRunId: string;

const get = (url: string, token = t.tokens.viewer, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "GET", url, headers: { ...auth(token), ...headers } });

const query = async <T>(text: string, params: unknown[] = []): Promise<T[]> =>
  (await t.database.pool.query(text, params)).rows as T[];

/** Decimal strings compared exactly, whatever their scale ("10.50" = "10.5" = "10.500"). */
const norm = (value: string | null | undefined): string => {
  if (value === null || value === undefined) return "0";
  const [int = "0", frac = ""] = value.replace(/^-/, "").split(".");
  const f = frac.replace(/0+$/, "");
  const body = `${int.replace(/^0+(?=\d)/, "")}${f ? `.${f}` : ""}`;
  return body === "0" ? "0" : value.startsWith("-") ? `-${body}` : body;
};

async function allPages(url: string, limit: number): Promise<{ id: number }[]> {
  const items: { id: number }[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const sep = url.includes("?") ? "&" : "?";
    const res = await get(`${url}${sep}limit=${limit}${next ? `&cursor=${next}` : ""}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { items: { id: number }[]; next: string | null };
    expect(body.items.length).toBeLessThanOrEqual(limit);
    items.push(...body.items);
    next = body.next;
    pages++;
  } while (next && pages < 1000);
  return items;
}

beforeAll(async () => {
  t = await startTestApp("finance");
  etl = await startEtl(t);
  const { runId, run } = await etl.sync({ mode: "full" });
  expect(run.status, JSON.stringify(run)).toBe("succeeded");
  firstRunId = runId;
}, 120_000);
afterAll(async () => {
  await etl?.close();
  await t?.close();
});

describe("sync control", () => {
  it("shows the run with per-model counts, in the history and in the per-model state", async () => {
    const run = (await get(`/api/v1/sync/runs/${firstRunId}`, t.tokens.admin)).json();
    expect(run).toMatchObject({ id: firstRunId, status: "succeeded", mode: "full", job: "sync" });
    const moves = run.results.find((r: { model: string }) => r.model === "account.move");
    expect(moves.upserted).toBe(etl.sim.store.count("account.move"));
    expect(run.results.every((r: { status: string }) => r.status === "succeeded")).toBe(true);
    // the run number works as an id too
    const byNumber = await get(`/api/v1/sync/runs/${run.runNumber}`, t.tokens.admin);
    expect(byNumber.json()).toMatchObject({ runNumber: run.runNumber, status: "succeeded" });

    const history = (await get("/api/v1/sync/runs", t.tokens.finance)).json();
    expect(history.items.map((r: { id: string }) => r.id)).toContain(firstRunId);

    const state = (await get("/api/v1/sync/state", t.tokens.finance)).json();
    const lines = state.models.find((m: { model: string }) => m.model === "account.move.line");
    expect(lines.rows).toBe(etl.sim.store.count("account.move.line"));
    expect(lines.lastSuccessAt).not.toBeNull();
    expect(lines.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(state.models.every((m: { absentAt: string | null }) => m.absentAt === null)).toBe(true);
  });

  it("creates its read indexes on the synced tables once they exist (after the data-changed signal)", async () => {
    const deadline = Date.now() + 10_000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = (
        await query<{ indexname: string }>("select indexname from pg_indexes where schemaname = 'odoo'")
      ).map((r) => r.indexname);
      if (names.includes("api_partner_search")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(names).toEqual(
      expect.arrayContaining([
        "api_move_date_id",
        "api_line_move",
        "api_payment_date_id",
        // text search: pg_trgm's GIN indexes (the test database's PostgreSQL has the extension)
        "api_move_search",
        "api_partner_search",
      ]),
    );
  });

  it("refuses unknown models with a 400 naming the field, and 404s an unknown run", async () => {
    const bad = await t.app.inject({
      method: "POST",
      url: "/api/v1/sync/runs",
      headers: auth(t.tokens.finance),
      payload: { models: ["account.move", "sale.order"] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([{ field: "body.models.1", message: "is not a synced model" }]);
    expect((await get("/api/v1/sync/runs/sync-nope", t.tokens.admin)).statusCode).toBe(404);
  });

  it("re-reads single records on request (sync-records)", async () => {
    const [move] = await query<{ id: number }>(
      "select id from odoo.account_move where move_type = 'out_invoice' and _deleted_at is null order by id limit 1",
    );
    etl.sim.control.update("account.move", [move!.id], { ref: "RECORD-SYNC" });
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/sync/records",
      headers: auth(t.tokens.finance),
      payload: { model: "account.move", ids: [move!.id] },
    });
    expect(res.statusCode).toBe(202);
    const deadline = Date.now() + 20_000;
    let ref: string | null = null;
    while (Date.now() < deadline && ref !== "RECORD-SYNC") {
      await new Promise((r) => setTimeout(r, 100));
      ref = (await query<{ ref: string }>("select ref from odoo.account_move where id = $1", [move!.id]))[0]!
        .ref;
    }
    expect(ref).toBe("RECORD-SYNC");
  });
});

describe("invoices", () => {
  const invoiceTypes = "('out_invoice','out_refund','in_invoice','in_refund','out_receipt','in_receipt')";

  it.each(["-date", "date", "amountTotal", "-amountTotal", "name", "dueDate"])(
    "pages through every invoice exactly once sorted by %s",
    async (sort) => {
      const expected = await query<{ id: number }>(
        `select id from odoo.account_move where _deleted_at is null and move_type in ${invoiceTypes}`,
      );
      const seen = await allPages(`/api/v1/invoices?sort=${sort}`, 7);
      const ids = seen.map((i) => i.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort((a, b) => a - b)).toEqual(expected.map((r) => r.id).sort((a, b) => a - b));
    },
  );

  it("applies every filter, each result matching it and the count matching SQL", async () => {
    const [sample] = await query<{ partner_id: number; company_id: number }>(
      `select partner_id, company_id from odoo.account_move where move_type = 'out_invoice' and state = 'posted' and _deleted_at is null order by id limit 1`,
    );
    const cases: [string, string][] = [
      ["type=out_invoice", "move_type = 'out_invoice'"],
      ["direction=purchase", "move_type in ('in_invoice','in_refund','in_receipt')"],
      ["state=posted", `state = 'posted' and move_type in ${invoiceTypes}`],
      ["paymentState=paid", `payment_state = 'paid' and move_type in ${invoiceTypes}`],
      [
        `partnerId=${sample!.partner_id}`,
        `partner_id = ${sample!.partner_id} and move_type in ${invoiceTypes}`,
      ],
      [
        `companyId=${sample!.company_id}`,
        `company_id = ${sample!.company_id} and move_type in ${invoiceTypes}`,
      ],
      [
        "currency=USD",
        `currency_id = (select id from odoo.res_currency where name = 'USD') and move_type in ${invoiceTypes}`,
      ],
      [
        "invoiceDateFrom=2025-01-01&invoiceDateTo=2025-06-30",
        `invoice_date between '2025-01-01' and '2025-06-30' and move_type in ${invoiceTypes}`,
      ],
      ["dueDateFrom=2025-03-01", `invoice_date_due >= '2025-03-01' and move_type in ${invoiceTypes}`],
      [
        "overdue=true",
        `state = 'posted' and amount_residual <> 0 and payment_state in ('not_paid','partial') and invoice_date_due < current_date and move_type in ${invoiceTypes}`,
      ],
      [
        "q=INV",
        `(name ilike '%INV%' or ref ilike '%INV%' or payment_reference ilike '%INV%') and move_type in ${invoiceTypes}`,
      ],
    ];
    let nonEmpty = 0;
    for (const [filter, where] of cases) {
      const expected = await query<{ id: number }>(
        `select id from odoo.account_move where _deleted_at is null and ${where}`,
      );
      const got = await allPages(`/api/v1/invoices?${filter}`, 200);
      expect(
        got.map((i) => i.id).sort((a, b) => a - b),
        filter,
      ).toEqual(expected.map((r) => r.id).sort((a, b) => a - b));
      if (expected.length) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(9);
  });

  it("searches number, reference and payment reference each on its own: never a match across two", async () => {
    const [bill] = await query<{ id: number; name: string; ref: string }>(
      `select id, name, ref from odoo.account_move where _deleted_at is null and move_type = 'in_invoice'
         and ref like 'F-%' and name like 'BILL/%' order by id limit 1`,
    );
    const [paid] = await query<{ id: number; payment_reference: string }>(
      `select id, payment_reference from odoo.account_move where _deleted_at is null and move_type = 'out_invoice'
         and payment_reference is not null order by id desc limit 1`,
    );
    const searches = [
      bill!.ref, // the vendor's reference only
      bill!.ref.toLowerCase(), // case-insensitive
      paid!.payment_reference.slice(-9), // the tail of a payment reference
      `${bill!.name.slice(-3)}${bill!.ref.slice(0, 3)}`, // the number's end and the reference's start: no field holds it
      `${bill!.ref}${bill!.name.slice(0, 4)}`, // the reference's end and the payment reference's start
    ];
    const found: number[] = [];
    for (const q of searches) {
      const pattern = `%${q}%`;
      const expected = await query<{ id: number }>(
        `select id from odoo.account_move where _deleted_at is null and move_type in ${invoiceTypes}
           and (name ilike $1 or ref ilike $1 or payment_reference ilike $1) order by id`,
        [pattern],
      );
      const got = await allPages(`/api/v1/invoices?q=${encodeURIComponent(q)}`, 200);
      expect(
        got.map((i) => i.id).sort((a, b) => a - b),
        q,
      ).toEqual(expected.map((r) => r.id));
      found.push(got.length);
    }
    expect(found[0]).toBeGreaterThan(0);
    expect(found[1]).toBe(found[0]);
    expect(found[2]).toBeGreaterThan(0);
    expect(found[3]).toBe(0);
    expect(found[4]).toBe(0);
  });

  it("serves money as decimal strings with the currency code, and the detail with its lines", async () => {
    const page = (await get("/api/v1/invoices?type=out_invoice&state=posted&limit=1")).json();
    const invoice = page.items[0];
    expect(invoice.amountTotal).toMatch(/^-?\d+(\.\d+)?$/);
    expect(invoice.currency).toMatch(/^[A-Z]{3}$/);
    const detail = (await get(`/api/v1/invoices/${invoice.id}`)).json();
    expect(detail.lines.length).toBeGreaterThan(1);
    const [sum] = await query<{ debit: string; credit: string }>(
      "select sum(debit)::text as debit, sum(credit)::text as credit from odoo.account_move_line where move_id = $1 and _deleted_at is null",
      [invoice.id],
    );
    const total = (k: "debit" | "credit") =>
      detail.lines.reduce(
        (s: bigint, l: Record<string, string>) => s + BigInt(Math.round(Number(l[k]) * 100)),
        0n,
      );
    expect(total("debit")).toBe(BigInt(Math.round(Number(sum!.debit) * 100)));
    expect(total("debit")).toBe(total("credit"));
    expect(detail.companyCurrency).toMatch(/^[A-Z]{3}$/);
    expect((await get("/api/v1/invoices/999999")).statusCode).toBe(404);
  });
});

describe("partners, payments, accounts, journal items", () => {
  it("finds partners by name, reference or VAT, customers or vendors, with open balances", async () => {
    const [p] = await query<{ id: number; name: string; vat: string | null }>(
      "select id, name, vat from odoo.res_partner where _deleted_at is null and customer_rank > 0 and vat is not null order by id limit 1",
    );
    const byName = (
      await get(`/api/v1/partners?q=${encodeURIComponent(p!.name.slice(0, 6))}&limit=200`)
    ).json();
    expect(byName.items.map((i: { id: number }) => i.id)).toContain(p!.id);
    const byVat = (await get(`/api/v1/partners?q=${encodeURIComponent(p!.vat!)}`)).json();
    expect(byVat.items.map((i: { id: number }) => i.id)).toContain(p!.id);
    const customers = await allPages("/api/v1/partners?kind=customer", 50);
    const [count] = await query<{ n: number }>(
      "select count(*)::int as n from odoo.res_partner where _deleted_at is null and customer_rank > 0",
    );
    expect(customers.length).toBe(count!.n);
    const everyone = await allPages("/api/v1/partners?sort=-name", 9);
    expect(new Set(everyone.map((i) => i.id)).size).toBe(everyone.length);

    const [debtor] = await query<{ partner_id: number; company_id: number; open: string }>(
      `select l.partner_id, l.company_id, sum(l.amount_residual)::text as open from odoo.account_move_line l
       join odoo.account_account a on a.id = l.account_id where a.account_type = 'asset_receivable'
       and l.parent_state = 'posted' and l._deleted_at is null and l.partner_id is not null
       group by 1, 2 having sum(l.amount_residual) > 0 order by 1, 2 limit 1`,
    );
    const detail = (await get(`/api/v1/partners/${debtor!.partner_id}`)).json();
    const balance = detail.balances.find((b: { companyId: number }) => b.companyId === debtor!.company_id);
    expect(norm(balance.receivable)).toBe(norm(debtor!.open));
  });

  it("lists payments, accounts and journal items with their filters", async () => {
    const payments = await allPages("/api/v1/payments?paymentType=inbound", 25);
    const [pc] = await query<{ n: number }>(
      "select count(*)::int as n from odoo.account_payment where _deleted_at is null and payment_type = 'inbound'",
    );
    expect(payments.length).toBe(pc!.n);
    expect(pc!.n).toBeGreaterThan(0);

    const receivables = (await get("/api/v1/accounts?accountType=asset_receivable")).json();
    expect(receivables.items.length).toBeGreaterThan(0);
    expect(
      receivables.items.every((a: { accountType: string }) => a.accountType === "asset_receivable"),
    ).toBe(true);

    const [{ mid } = { mid: "" }] = await query<{ mid: string }>(
      "select (percentile_disc(0.5) within group (order by date))::text as mid from odoo.account_move_line",
    );
    const [acc] = await query<{ account_id: number; n: number }>(
      "select account_id, count(*)::int as n from odoo.account_move_line where _deleted_at is null and parent_state = 'posted' and date >= $1::date group by 1 order by 2 desc limit 1",
      [mid],
    );
    const items = await allPages(
      `/api/v1/journal-items?accountId=${acc!.account_id}&postedOnly=true&dateFrom=${mid}`,
      50,
    );
    expect(items.length).toBe(acc!.n);
  });
});

describe("aging and dashboard", () => {
  const today = () => new Date().toISOString().slice(0, 10);
  /** Quartiles of the journal items' dates: as-of dates inside the data, where payments come later. */
  const pastDates = async () => {
    const [row] = await query<{ q1: string; q2: string; q3: string }>(
      `select (percentile_disc(0.25) within group (order by date))::text as q1,
              (percentile_disc(0.5) within group (order by date))::text as q2,
              (percentile_disc(0.75) within group (order by date))::text as q3
       from odoo.account_move_line where _deleted_at is null`,
    );
    return [row!.q1, row!.q2, row!.q3];
  };
  const accountType = (kind: "receivable" | "payable") =>
    kind === "receivable" ? "asset_receivable" : "liability_payable";

  /**
   * What each posted receivable/payable item still owed as of $1, written independently of the API:
   * correlated sums of the partials that counted by then. `current` uses the items' amount_residual.
   */
  const owed = (basis: "partials" | "current") =>
    basis === "current"
      ? "l.amount_residual"
      : `(l.balance
          - coalesce((select sum(p.amount) from odoo.account_partial_reconcile p
                      where p.debit_move_id = l.id and p.max_date <= $1::date and p._deleted_at is null), 0)
          + coalesce((select sum(p.amount) from odoo.account_partial_reconcile p
                      where p.credit_move_id = l.id and p.max_date <= $1::date and p._deleted_at is null), 0))`;

  /** Asserts every partner and company bucket of the report against SQL; returns the non-zero buckets. */
  async function expectAging(kind: "receivable" | "payable", asOf: string, basis: "partials" | "current") {
    const res = await get(`/api/v1/aging?kind=${kind}&asOf=${asOf}`);
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json();
    expect(report.asOf).toBe(asOf);
    const sign = kind === "receivable" ? 1 : -1;
    const expected = await query<{
      company_id: number;
      partner_id: number | null;
      bucket: string;
      amount: string;
    }>(
      `with items as (
         select l.company_id, l.partner_id, ${sign} * ${owed(basis)} as amount,
                $1::date - coalesce(l.date_maturity, (select m.invoice_date_due from odoo.account_move m where m.id = l.move_id and m._deleted_at is null), l.date) as late
         from odoo.account_move_line l
         where l._deleted_at is null and l.parent_state = 'posted' and l.date <= $1::date
           and l.account_id in (select id from odoo.account_account where account_type = $2 and _deleted_at is null))
       select company_id, partner_id,
         case when late <= 0 then 'notDue' when late <= 30 then 'days1To30' when late <= 60 then 'days31To60'
              when late <= 90 then 'days61To90' else 'over90' end as bucket, sum(amount)::text as amount
       from items where amount <> 0 group by 1, 2, 3`,
      [asOf, accountType(kind)],
    );
    let nonZero = 0;
    for (const company of report.companies) {
      const partnersWanted = new Set(
        expected.filter((e) => e.company_id === company.companyId).map((e) => e.partner_id),
      );
      expect(new Set(company.partners.map((p: { partnerId: number | null }) => p.partnerId))).toEqual(
        partnersWanted,
      );
      for (const partner of company.partners) {
        for (const bucket of ["notDue", "days1To30", "days31To60", "days61To90", "over90"]) {
          const want = expected.find(
            (e) =>
              e.company_id === company.companyId && e.partner_id === partner.partnerId && e.bucket === bucket,
          );
          expect(
            norm(partner[bucket]),
            `${kind} ${asOf} ${company.companyId} ${partner.partnerId} ${bucket}`,
          ).toBe(norm(want?.amount));
        }
      }
      for (const bucket of ["notDue", "days1To30", "days31To60", "days61To90", "over90", "total"]) {
        const [sum] = await query<{ s: string }>(
          "select coalesce(sum(x::numeric), 0)::text as s from unnest($1::text[]) x",
          [
            expected
              .filter(
                (e) => e.company_id === company.companyId && (bucket === "total" || e.bucket === bucket),
              )
              .map((e) => e.amount),
          ],
        );
        expect(norm(company.totals[bucket]), `${kind} ${asOf} ${company.companyId} ${bucket}`).toBe(
          norm(sum!.s),
        );
        if (bucket !== "total" && norm(company.totals[bucket]) !== "0") nonZero++;
      }
    }
    return { report, nonZero };
  }

  it.each(["receivable", "payable"] as const)(
    "%s aging as of past dates equals an independent SQL computation over the reconciliation history",
    async (kind) => {
      for (const asOf of await pastDates()) {
        const { nonZero } = await expectAging(kind, asOf, "partials");
        expect(nonZero, asOf).toBeGreaterThanOrEqual(2);
      }
    },
  );

  it.each(["receivable", "payable"] as const)(
    "%s aging as of today (or later) equals the items' current residuals",
    async (kind) => {
      // every match in the data counts by today: the as-of computation must give today's residuals
      const [{ later } = { later: 0 }] = await query<{ later: number }>(
        "select count(*)::int as later from odoo.account_partial_reconcile where _deleted_at is null and max_date > current_date",
      );
      expect(later).toBe(0);
      for (const asOf of [today(), "2099-12-31"]) {
        const current = await expectAging(kind, asOf, "current");
        expect(current.nonZero).toBeGreaterThanOrEqual(1);
        await expectAging(kind, asOf, "partials");
      }
    },
  );

  it("shows an invoice open between its date and its payments, for what was still owed each day", async () => {
    const { control } = etl.sim;
    const partner = control.create("res.partner", { name: "Aging As-Of Testing S.L.", customer_rank: 1 })
      .ids[0]!;
    const invoice = control.createMove({
      move_type: "out_invoice",
      company_id: 1,
      partner_id: partner,
      state: "posted",
      date: "2024-03-01",
      amounts: [100, 21],
    }).ids[0]!;
    control.payInvoice(invoice, { date: "2024-04-10", amount: 50 });
    control.payInvoice(invoice, { date: "2024-05-20" });
    const { run } = await etl.sync({});
    expect(run.status).toBe("succeeded");

    const zero = { notDue: "0", days1To30: "0", days31To60: "0", days61To90: "0", over90: "0", total: "0" };
    const agingOf = async (asOf: string) => {
      const res = await get(`/api/v1/aging?kind=receivable&companyId=1&partnerId=${partner}&asOf=${asOf}`);
      expect(res.statusCode, res.body).toBe(200);
      const [company] = res.json().companies;
      const row = company.partners.find((p: { partnerId: number }) => p.partnerId === partner);
      expect(pick(company.totals)).toEqual(row ? pick(row) : zero);
      return row ? pick(row) : null;
    };
    const pick = (r: Record<string, string>) => ({
      notDue: norm(r.notDue),
      days1To30: norm(r.days1To30),
      days31To60: norm(r.days31To60),
      days61To90: norm(r.days61To90),
      over90: norm(r.over90),
      total: norm(r.total),
    });
    // not invoiced yet
    expect(await agingOf("2024-02-29")).toBeNull();
    // invoiced, due the same day, nothing paid: the full 121
    expect(await agingOf("2024-03-01")).toEqual({ ...zero, notDue: "121", total: "121" });
    expect(await agingOf("2024-03-31")).toEqual({ ...zero, days1To30: "121", total: "121" });
    expect(await agingOf("2024-04-09")).toEqual({ ...zero, days31To60: "121", total: "121" });
    // the first payment counts from its date: 71 left
    expect(await agingOf("2024-04-10")).toEqual({ ...zero, days31To60: "71", total: "71" });
    expect(await agingOf("2024-05-19")).toEqual({ ...zero, days61To90: "71", total: "71" });
    // settled by the second payment, and still settled today
    expect(await agingOf("2024-05-20")).toBeNull();
    expect(await agingOf(today())).toBeNull();
  });

  it("dashboard totals equal an independent SQL computation, open and overdue as of asOf", async () => {
    const [, mid] = await pastDates();
    const to = mid!.slice(0, 7);
    // A bank account moves from other journals too (an opening balance, a transfer): a general-journal
    // entry on company 1's bank account, which its bank journal's balance must count.
    const [bank] = await query<{ journal: number; account: number }>(
      `select j.id as journal, j.default_account_id as account from odoo.account_journal j
        where j.company_id = 1 and j.type = 'bank' and j._deleted_at is null order by j.id limit 1`,
    );
    const entry = etl.sim.control.createMove({
      move_type: "entry",
      company_id: 1,
      state: "posted",
      date: mid!,
      amounts: [1234.56],
    });
    const { run } = await etl.sync({});
    expect(run.status).toBe("succeeded");
    const [onBank] = await query<{ n: number }>(
      "select count(*)::int as n from odoo.account_move_line where move_id = $1 and account_id = $2",
      [entry.ids[0], bank!.account],
    );
    expect(onBank!.n, "the simulator's entry credits the bank journal's account").toBe(1);
    const res = await get(`/api/v1/dashboard?to=${to}&asOf=${mid}`);
    expect(res.statusCode, res.body).toBe(200);
    const dash = res.json();
    expect(dash.companies.length).toBeGreaterThan(0);
    let months = 0;
    for (const company of dash.companies) {
      expect(company.months).toHaveLength(12);
      for (const m of company.months) {
        const [want] = await query<{ revenue: string; bills: string }>(
          `select
             coalesce(sum(-l.balance) filter (where m.move_type like 'out\\_%'), 0)::text as revenue,
             coalesce(sum(l.balance) filter (where m.move_type like 'in\\_%'), 0)::text as bills
           from odoo.account_move m join odoo.account_move_line l on l.move_id = m.id
           where m._deleted_at is null and l._deleted_at is null and m.state = 'posted' and l.display_type = 'product'
             and l.company_id = $1 and to_char(l.date, 'YYYY-MM') = $2`,
          [company.companyId, m.month],
        );
        expect(norm(m.revenue), `${company.companyId} ${m.month}`).toBe(norm(want!.revenue));
        expect(norm(m.bills)).toBe(norm(want!.bills));
        if (norm(m.revenue) !== "0") months++;
      }
      for (const journal of company.cash) {
        const [bal] = await query<{ b: string }>(
          `select coalesce(sum(l.balance), 0)::text as b from odoo.account_move_line l
           where l._deleted_at is null and l.parent_state = 'posted' and l.date <= $2::date
             and l.account_id = (select default_account_id from odoo.account_journal where id = $1)`,
          [journal.journalId, mid],
        );
        expect(norm(journal.balance), `journal ${journal.journalId}`).toBe(norm(bal!.b));
        if (journal.journalId === bank!.journal) expect(norm(journal.balance)).not.toBe("0");
      }
      expect(company.cash.length).toBeGreaterThan(0);
    }
    expect(months).toBeGreaterThan(0);
    // without `to`, the window ends with the latest month that has posted entries
    const [{ last } = { last: "" }] = await query<{ last: string }>(
      "select to_char(max(date), 'YYYY-MM') as last from odoo.account_move_line where parent_state = 'posted' and _deleted_at is null and date <= current_date",
    );
    expect((await get("/api/v1/dashboard")).json().to).toBe(last);
  });

  it("dashboard open and overdue totals as of several dates follow the reconciliation history; as of today, the current residuals", async () => {
    const openTotals = (basis: "partials" | "current") =>
      `select
         coalesce(sum(${owed(basis)}) filter (where a.account_type = 'asset_receivable'), 0)::text as rec,
         coalesce(sum(-${owed(basis)}) filter (where a.account_type = 'liability_payable'), 0)::text as pay,
         coalesce(sum(${owed(basis)}) filter (where a.account_type = 'asset_receivable'
           and coalesce(l.date_maturity, l.date) < $1::date), 0)::text as overdue_rec,
         coalesce(sum(-${owed(basis)}) filter (where a.account_type = 'liability_payable'
           and coalesce(l.date_maturity, l.date) < $1::date), 0)::text as overdue_pay
       from odoo.account_move_line l join odoo.account_account a on a.id = l.account_id
       where l._deleted_at is null and l.parent_state = 'posted' and l.company_id = $2 and l.date <= $1::date`;
    const cases: [string, "partials" | "current"][] = [
      ...(await pastDates()).map((d) => [d, "partials"] as [string, "partials"]),
      [today(), "current"],
      [today(), "partials"],
    ];
    let differsFromCurrent = 0;
    for (const [asOf, basis] of cases) {
      const res = await get(`/api/v1/dashboard?asOf=${asOf}`);
      expect(res.statusCode, res.body).toBe(200);
      for (const company of res.json().companies) {
        const [want] = await query<Record<string, string>>(openTotals(basis), [asOf, company.companyId]);
        const got = [
          company.openReceivables,
          company.openPayables,
          company.overdueReceivables,
          company.overduePayables,
        ];
        expect(got.map(norm), `${asOf} ${basis} ${company.companyId}`).toEqual(
          [want!.rec, want!.pay, want!.overdue_rec, want!.overdue_pay].map(norm),
        );
        expect(norm(company.openReceivables)).not.toBe("0");
        // the old computation (today's residuals of the items dated by then) would have said otherwise
        const [old] = await query<Record<string, string>>(openTotals("current"), [asOf, company.companyId]);
        if (norm(old!.rec) !== norm(company.openReceivables)) differsFromCurrent++;
      }
    }
    expect(differsFromCurrent).toBeGreaterThan(0);
  });

  it.each([
    // a date of its own each: an answer given before is served from the read cache
    [["account.partial.reconcile"], "the reconciliation history", "2024-02-29"],
    [
      ["account.move.line"],
      "the journal items (models sync in parallel: the history is often done first)",
      "2024-02-28",
    ],
  ])(
    "answers 503 with Retry-After while %j has not finished its first sync (%s), rather than totals from part of the books",
    async (models, _what, asOf) => {
      const { saved, restore } = await holdFirstSync(t.database.db, models);
      expect(saved.map((c) => c.model)).toEqual(models);
      expect(saved.every((c) => c.last_success_at)).toBe(true);
      try {
        const res = await get(`/api/v1/aging?kind=receivable&asOf=${asOf}`);
        expect(res.statusCode).toBe(503);
        expect(res.headers["content-type"]).toContain("application/problem+json");
        expect(res.headers["retry-after"]).toBe("30");
        expect(res.json().detail).toBe(
          `the first sync of ${models.join(", ")} has not finished: open items cannot be computed from part of the books yet; retry when the running sync has finished (GET /api/v1/sync/state)`,
        );
        expect((await get(`/api/v1/dashboard?asOf=${asOf}`)).statusCode).toBe(503);
      } finally {
        await restore();
      }
      expect((await get(`/api/v1/aging?kind=receivable&asOf=${asOf}`)).statusCode).toBe(200);
    },
  );

  it("on an Odoo without the reconciliation history, works from current residuals for today and later, and refuses past dates naming asOf", async () => {
    // What the ETL records when the server has no account.partial.reconcile (etl-worker's
    // optional.test.ts): absent_at set. The table is hidden too, so nothing can read it.
    await query("update etl.cursors set absent_at = now() where model = 'account.partial.reconcile'");
    await query("alter table odoo.account_partial_reconcile rename to account_partial_reconcile_hidden");
    try {
      const state = (await get("/api/v1/sync/state", t.tokens.finance)).json();
      const partials = state.models.find((m: { model: string }) => m.model === "account.partial.reconcile");
      expect(Date.parse(partials.absentAt)).toBeGreaterThan(Date.now() - 60_000);
      const aging = await get("/api/v1/aging?kind=receivable"); // asOf omitted: today
      expect(aging.statusCode, aging.body).toBe(200);
      for (const kind of ["receivable", "payable"] as const) {
        const { nonZero } = await expectAging(kind, "2099-01-01", "current");
        expect(nonZero).toBeGreaterThanOrEqual(1);
      }
      const dashboard = await get("/api/v1/dashboard?asOf=2099-01-02");
      expect(dashboard.statusCode, dashboard.body).toBe(200);
      const [open] = await query<{ rec: string }>(
        `select coalesce(sum(l.amount_residual), 0)::text as rec from odoo.account_move_line l
         join odoo.account_account a on a.id = l.account_id
         where l._deleted_at is null and l.parent_state = 'posted' and l.company_id = 1
           and a.account_type = 'asset_receivable' and l.date <= '2099-01-02'`,
      );
      const company = dashboard.json().companies.find((c: { companyId: number }) => c.companyId === 1);
      expect(norm(company.openReceivables)).toBe(norm(open!.rec));
      const past = await get("/api/v1/aging?kind=payable&asOf=2001-02-03");
      expect(past.statusCode).toBe(422);
      expect(past.headers["content-type"]).toContain("application/problem+json");
      expect(past.json().detail).toMatch(
        /need the reconciliation history \(account\.partial\.reconcile\), which the connected Odoo does not provide/,
      );
      expect(past.json().errors).toEqual([
        { field: "query.asOf", message: expect.stringMatching(/today .* or later/) },
      ]);
      expect((await get("/api/v1/dashboard?asOf=2001-02-03")).statusCode).toBe(422);
    } finally {
      await query("alter table odoo.account_partial_reconcile_hidden rename to account_partial_reconcile");
      await query("update etl.cursors set absent_at = null where model = 'account.partial.reconcile'");
    }
    expect((await get("/api/v1/aging?kind=payable&asOf=2001-02-04")).statusCode).toBe(200);
  });

  it("answers 503 naming the missing reconciliation history rather than failing", async () => {
    await query("alter table odoo.account_partial_reconcile rename to account_partial_reconcile_hidden");
    try {
      const res = await get("/api/v1/aging?kind=payable&asOf=2024-01-31");
      expect(res.statusCode).toBe(503);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.json().detail).toMatch(/account_partial_reconcile.*not synced yet/);
      expect((await get("/api/v1/dashboard?asOf=2024-01-31")).statusCode).toBe(503);
    } finally {
      await query("alter table odoo.account_partial_reconcile_hidden rename to account_partial_reconcile");
    }
    expect((await get("/api/v1/aging?kind=payable&asOf=2024-01-31")).statusCode).toBe(200);
  });

  it("stops an aging report or dashboard statement that runs past REPORT_STATEMENT_TIMEOUT_MS: 503, connection freed", async () => {
    // A second replica with a short timeout, over the same database; a migration holds a lock on the
    // journal items meanwhile, so every report statement that reads them waits.
    const short = await startTestApp("finance_timeout", {
      testDb: t.testDb,
      env: { REPORT_STATEMENT_TIMEOUT_MS: "300", CACHE_TTL_SECONDS: "0" },
    });
    const locker = await t.database.pool.connect();
    try {
      await locker.query("begin");
      await locker.query("lock table odoo.account_move_line in access exclusive mode");
      for (const url of ["/api/v1/aging?kind=receivable", "/api/v1/dashboard"]) {
        const started = Date.now();
        const res = await short.app.inject({ method: "GET", url, headers: auth(short.tokens.viewer) });
        expect(res.statusCode, res.body).toBe(503);
        expect(res.headers["content-type"]).toContain("application/problem+json");
        expect(res.json().detail).toMatch(/REPORT_STATEMENT_TIMEOUT_MS/);
        expect(Date.now() - started).toBeLessThan(5_000);
      }
      // nothing of the replica's is left waiting on the lock
      const [waiting] = await query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
      );
      expect(waiting!.n).toBe(0);
    } finally {
      await locker.query("rollback");
      locker.release();
      await short.close();
    }
    expect((await get("/api/v1/aging?kind=receivable")).statusCode).toBe(200);
  });

  it("counts a payment dated after asOf as not yet made, even when asOf is today", async () => {
    // Today's open amounts come from the items' residuals only when no match is dated later; a
    // payment dated next month has already reduced the invoice's residual, not what it owed today.
    const { control } = etl.sim;
    const partner = control.create("res.partner", { name: "Paid Next Month S.A.", customer_rank: 1 }).ids[0]!;
    const invoice = control.createMove({
      move_type: "out_invoice",
      company_id: 1,
      partner_id: partner,
      state: "posted",
      date: "2024-06-03",
      amounts: [200],
    }).ids[0]!;
    const later = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    control.payInvoice(invoice, { date: later });
    const { run } = await etl.sync({});
    expect(run.status).toBe("succeeded");
    const [residual] = await query<{ r: string }>(
      "select amount_residual::text as r from odoo.account_move where id = $1",
      [invoice],
    );
    expect(norm(residual!.r)).toBe("0"); // paid, as Odoo keeps it now

    const owedBy = async (asOf?: string) => {
      const res = await get(
        `/api/v1/aging?kind=receivable&companyId=1&partnerId=${partner}${asOf ? `&asOf=${asOf}` : ""}`,
      );
      expect(res.statusCode, res.body).toBe(200);
      return norm(res.json().companies[0].totals.total);
    };
    expect(await owedBy()).toBe("200");
    expect(await owedBy(today())).toBe("200");
    expect(await owedBy(later)).toBe("0");
    const dashboard = (await get(`/api/v1/dashboard?companyId=1`)).json();
    const [want] = await query<{ rec: string }>(
      `select coalesce(sum(${owed("partials")}), 0)::text as rec from odoo.account_move_line l
       join odoo.account_account a on a.id = l.account_id
       where l._deleted_at is null and l.parent_state = 'posted' and l.company_id = 1
         and a.account_type = 'asset_receivable' and l.date <= $1::date`,
      [today()],
    );
    expect(norm(dashboard.companies[0].openReceivables)).toBe(norm(want!.rec));
  });
});

describe("cache", () => {
  it("answers from Redis with an ETag, 304 on If-None-Match, and drops everything when a sync changes data", async () => {
    const url = "/api/v1/invoices?type=out_invoice&limit=200&sort=name";
    const first = await get(url);
    const second = await get(url);
    expect(second.headers["x-cache"]).toBe("hit");
    expect(second.body).toBe(first.body);
    const etag = second.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    // revalidated with the ETag, kept by no shared cache, per token and origin; the API's security set
    for (const res of [first, second]) {
      expect(res.headers["cache-control"]).toBe("private, no-cache");
      expect(res.headers.vary).toBe("Origin, Authorization, Accept-Encoding");
      expect(res.headers["content-security-policy"]).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-request-id"]).toBeTruthy();
    }
    const notModified = await get(url, t.tokens.viewer, { "if-none-match": etag });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.body).toBe("");
    // another role has its own entry
    expect((await get(url, t.tokens.admin)).headers["x-cache"]).toBe("miss");

    const ids = (first.json().items as { id: number; name: string }[]).map((i) => i.id);
    const changed = ids[0]!;
    const deleted = ids[1]!;
    etl.sim.control.update("account.move", [changed], { ref: "CHANGED-AFTER-CACHE" });
    etl.sim.control.delete("account.move", [deleted]);
    const { run } = await etl.sync({ mode: "full", models: ["account.move", "account.move.line"] });
    expect(run.status).toBe("succeeded");

    // the data-changed signal reaches the cache shortly after the run commits
    const deadline = Date.now() + 5_000;
    let after = await get(url);
    while (after.headers["x-cache"] === "hit" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = await get(url);
    }
    expect(after.headers.etag).not.toBe(etag);
    const items = after.json().items as { id: number; ref: string | null }[];
    expect(items.find((i) => i.id === changed)?.ref).toBe("CHANGED-AFTER-CACHE");
    expect(items.find((i) => i.id === deleted)).toBeUndefined();
    expect((await get(`/api/v1/invoices/${deleted}`)).statusCode).toBe(404);
    expect((await get(url, t.tokens.viewer, { "if-none-match": etag })).statusCode).toBe(200);

    const metrics = await t.app.inject({ method: "GET", url: "/metrics", headers: auth(t.tokens.admin) });
    expect(metrics.body).toMatch(/api_cache_hits_total\{route="listInvoices"\} [1-9]/);
    expect(metrics.body).toMatch(/api_cache_invalidations_total\{reason="data changed"\} [1-9]/);
  });

  it("reads PostgreSQL once for a crowd of identical requests that miss together", async () => {
    const misses = async () => {
      const body = (await t.app.inject({ method: "GET", url: "/metrics", headers: auth(t.tokens.admin) }))
        .body;
      return Number(/api_cache_misses_total\{route="dashboard"\} (\d+)/.exec(body)?.[1] ?? 0);
    };
    const before = await misses();
    // A key nobody has asked for yet: every one of these misses the cache.
    const url = `/api/v1/dashboard?companyId=1&asOf=${new Date().toISOString().slice(0, 10)}`;
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(url)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(200));
    const how = answers.map((a) => a.headers["x-cache"]).sort();
    expect(how).toEqual(["miss", ...Array(7).fill("shared")]);
    expect(new Set(answers.map((a) => a.headers.etag)).size).toBe(1);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect((await misses()) - before).toBe(1);
    // once read, the next one is a plain hit
    expect((await get(url)).headers["x-cache"]).toBe("hit");
  });
});

it("keeps SQL out of filters: hostile text is refused, data unchanged", async () => {
  const [before] = await query<{ n: number }>("select count(*)::int as n from odoo.account_move");
  for (const q of ["x' or '1'='1", "1; drop table odoo.account_move; --", "%", "a\\b"]) {
    const res = await get(`/api/v1/invoices?q=${encodeURIComponent(q)}`);
    expect(res.statusCode, q).toBe(400);
    expect(res.json().errors[0].field).toBe("query.q");
  }
  const [after] = await query<{ n: number }>("select count(*)::int as n from odoo.account_move");
  expect(after!.n).toBe(before!.n);
  void sql;
});
