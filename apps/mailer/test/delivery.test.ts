import { generateKeyPairSync } from "node:crypto";
import { sql } from "@finanzas/db";
import { aging } from "@finanzas/ledger";
import { verifyUnsubscribeToken } from "@finanzas/mail";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MailerSuite,
  messagesOf,
  SECRET,
  startMailerSuite,
  startMailing,
  type World,
  waitForMailing,
} from "./harness.js";
import type { TestSmtp } from "./smtp.js";

/*
 * Mailings over data synced from the Odoo simulator, sent through the real mailer code to a real
 * SMTP server started here, read back with mailparser.
 */

let suite: MailerSuite | undefined;
let world: World;
let smtp: TestSmtp;
const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const DKIM = {
  domainName: "finanzas.test",
  keySelector: "mail2026",
  privateKey: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
};

beforeAll(async () => {
  suite = await startMailerSuite("mailer_delivery", { dkim: DKIM });
  ({ world, smtp } = suite);
}, 180_000);

afterAll(async () => {
  await suite?.close();
});

/** What each partner owes per company today, straight from the synced journal items. */
async function owedByPartner(): Promise<Map<number, { company: number; currency: string; owed: string }[]>> {
  const { rows } = await sql<{ partner_id: number; company_id: number; currency: string; owed: string }>`
    select l.partner_id, l.company_id, cur.name as currency, sum(l.amount_residual)::text as owed
    from odoo.account_move_line l
    join odoo.account_account a on a.id = l.account_id and a.account_type = 'asset_receivable'
    join odoo.res_company co on co.id = l.company_id
    join odoo.res_currency cur on cur.id = co.currency_id
    where l._deleted_at is null and l.parent_state = 'posted' and l.partner_id is not null and l.amount_residual <> 0
    group by 1, 2, 3 order by 1, 2`.execute(world.db);
  const map = new Map<number, { company: number; currency: string; owed: string }[]>();
  for (const r of rows)
    map.set(r.partner_id, [
      ...(map.get(r.partner_id) ?? []),
      { company: r.company_id, currency: r.currency, owed: r.owed },
    ]);
  return map;
}

/** A header's unfolded value from the raw message ("" when absent). */
function headerOf(raw: Buffer, name: string): string {
  const head = raw.toString("utf8").split(/\r?\n\r?\n/)[0] ?? "";
  const unfolded = head.replace(/\r?\n[ \t]+/g, " ");
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line ? line.slice(name.length + 1).trim() : "";
}

const money = (amount: string, currency: string, lang: string | null) =>
  new Intl.NumberFormat((lang ?? "es_ES").replace("_", "-"), { style: "currency", currency })
    .format(amount as unknown as number)
    .replace(/\s/g, " ");

describe("statement mailing", () => {
  it("sends each customer with an open balance its statement, with its own figures, once", async () => {
    const owed = await owedByPartner();
    const owing = [...owed].filter(([, per]) => per.some((p) => Number(p.owed) > 0)).map(([id]) => id);
    expect(owing.length).toBeGreaterThan(5);
    const before = smtp.received.length;
    const mailingId = await startMailing(world, "statement");
    const { mailing, messages } = await waitForMailing(world, mailingId);
    expect(mailing.status).toBe("done");
    // every customer owing something has a row, and nobody else
    expect(messages.map((m) => m.partner_id).sort((a, b) => a - b)).toEqual(owing.sort((a, b) => a - b));
    const sent = messages.filter((m) => m.state === "sent");
    const skipped = messages.filter((m) => m.state === "skipped");
    expect(sent.length + skipped.length).toBe(messages.length);
    expect(sent.length).toBeGreaterThan(3);
    for (const m of skipped) expect(m.skip_reason).toMatch(/email address/);
    const received = smtp.received.slice(before);
    expect(received.length).toBe(sent.length);

    for (const m of sent) {
      const mail = received.filter((r) => r.parsed.messageId === `<${m.message_id}>`);
      expect(mail, `message ${m.message_id} delivered exactly once`).toHaveLength(1);
      const got = mail[0]!;
      expect(got.to).toEqual([m.email]);
      const partner = await world.db
        .selectFrom("odoo.res_partner")
        .select(["name", "email", "lang", "commercial_partner_id"])
        .where("id", "=", m.partner_id)
        .executeTakeFirstOrThrow();
      if (partner.email) expect(m.email).toBe(partner.email);
      else {
        const commercial = await world.db
          .selectFrom("odoo.res_partner")
          .select("email")
          .where("id", "=", partner.commercial_partner_id!)
          .executeTakeFirstOrThrow();
        expect(m.email).toBe(commercial.email);
      }
      const text = (got.parsed.text ?? "").replace(/\s/g, " ");
      for (const per of owed.get(m.partner_id) ?? []) {
        expect(text, `partner ${m.partner_id} total`).toContain(money(per.owed, per.currency, partner.lang));
      }
      expect(got.parsed.subject).toContain(partner.name ?? "");
      expect(partner.lang?.startsWith("en") ? text : "Estimado").toMatch(
        partner.lang?.startsWith("en") ? /Dear / : /Estimado/,
      );
      // statements carry no unsubscribe link
      expect(headerOf(got.raw, "List-Unsubscribe")).toBe("");
      expect(got.parsed.from?.text).toMatch(/@(finanzas|americas)\.test/);
      expect(got.parsed.replyTo?.text).toContain("cuentas@finanzas.test");
    }
  });
});

describe("reminder mailing", () => {
  let reminderId: string;

  it("gives each customer with overdue items the level of its oldest, lists them, and signs with DKIM", async () => {
    const before = smtp.received.length;
    reminderId = await startMailing(world, "reminder");
    const { mailing, messages } = await waitForMailing(world, reminderId);
    expect(mailing.status).toBe("done");
    expect(messages.length).toBeGreaterThan(3);
    const received = smtp.received.slice(before);
    const { rows: overdue } = await sql<{ partner_id: number; oldest: number; documents: string[] }>`
      select l.partner_id, max(current_date - coalesce(l.date_maturity, m.invoice_date_due, l.date))::integer as oldest,
        array_agg(coalesce(m.name, l.move_name)) as documents
      from odoo.account_move_line l
      join odoo.account_account a on a.id = l.account_id and a.account_type = 'asset_receivable'
      left join odoo.account_move m on m.id = l.move_id
      where l._deleted_at is null and l.parent_state = 'posted' and l.amount_residual > 0
        and coalesce(l.date_maturity, m.invoice_date_due, l.date) < current_date
      group by 1`.execute(world.db);
    const expected = new Map(overdue.map((o) => [o.partner_id, o]));
    const owedAging = await aging(world.db, { kind: "receivable", asOf: mailing.as_of });
    expect(messages.map((m) => m.partner_id).sort((a, b) => a - b)).toEqual(
      [...expected.keys()].sort((a, b) => a - b),
    );
    const levelOf = (days: number) => (days >= 60 ? 4 : days >= 30 ? 3 : days >= 15 ? 2 : 1);
    for (const m of messages) {
      const e = expected.get(m.partner_id)!;
      expect(m.level, `partner ${m.partner_id}: oldest ${e.oldest} days`).toBe(levelOf(e.oldest));
      if (m.state !== "sent") continue;
      const [got] = received.filter((r) => r.parsed.messageId === `<${m.message_id}>`);
      expect(got).toBeDefined();
      const text = got!.parsed.text ?? "";
      for (const document of e.documents) expect(text).toContain(document);
      // what is overdue per company is the aging's past-due figure (credit notes and payments
      // not matched yet lower it), never more than the customer owes on balance
      const overdueLabel = m.lang?.startsWith("en") ? "Overdue" : "Vencido";
      for (const company of owedAging.companies) {
        const row = company.partners.find((p) => p.partnerId === m.partner_id);
        if (!row || !company.currency) continue;
        const pastDue = (Number(row.total) - Number(row.notDue)).toFixed(2);
        const shown = text.replace(/\s/g, " ");
        if (Number(pastDue) === 0) continue;
        expect(shown, `partner ${m.partner_id} in ${company.companyName}`).toContain(
          `${overdueLabel}: ${money(pastDue, company.currency, m.lang)}`,
        );
      }
      // one-click unsubscribe, signed for this address
      const header = headerOf(got!.raw, "List-Unsubscribe");
      const url = header.match(/<(http[^>]+)>/)?.[1];
      expect(url).toMatch(/^http:\/\/api\.finanzas\.test\/api\/v1\/mail\/unsubscribe\?token=/);
      expect(verifyUnsubscribeToken(SECRET, new URL(url!).searchParams.get("token")!)).toEqual({
        email: m.email!.toLowerCase(),
        messageId: m.id,
      });
      expect(headerOf(got!.raw, "List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
      // the DKIM signature verifies against the public key, and covers List-Unsubscribe-Post
      const publicKey = keys.publicKey.export({ type: "spki", format: "der" }).toString("base64");
      const verified = await dkimVerify(got!.raw, {
        resolver: async (name, type) => {
          expect([name, type]).toEqual(["mail2026._domainkey.finanzas.test", "TXT"]);
          return [[`v=DKIM1; k=rsa; p=${publicKey}`]];
        },
      });
      expect(verified.results[0]?.status.result).toBe("pass");
      expect(headerOf(got!.raw, "DKIM-Signature")).toMatch(/h=[^;]*List-Unsubscribe-Post/i);
    }
  });

  it("does not send a customer the same level again within MAIL_REMINDER_MIN_DAYS, and says so", async () => {
    const before = smtp.received.length;
    const againId = await startMailing(world, "reminder");
    const { messages } = await waitForMailing(world, againId);
    const first = await messagesOf(world, reminderId);
    const sentBefore = new Set(first.filter((m) => m.state === "sent").map((m) => m.partner_id));
    for (const m of messages) {
      if (sentBefore.has(m.partner_id)) {
        expect(m.state).toBe("skipped");
        expect(m.skip_reason).toMatch(
          new RegExp(`reminder level ${m.level} already sent on \\d{4}-\\d{2}-\\d{2} \\(within 7 days\\)`),
        );
      }
    }
    expect(smtp.received.length).toBe(before);
  });

  it("skips, saying why, a customer whose overdue invoices its credit notes cover", async () => {
    const first = await messagesOf(world, reminderId);
    const partnerId = first.find((m) => m.state === "sent")!.partner_id;
    const asOf = new Date().toISOString().slice(0, 10);
    const before = await aging(world.db, { kind: "receivable", asOf, partnerIds: [partnerId] });
    // a credit note past due in each company the customer owes something overdue in, as large as
    // that debt: a copy of one of its overdue items, negated
    const added: number[] = [];
    for (const company of before.companies) {
      const row = company.partners.find((p) => p.partnerId === partnerId);
      const pastDue = row ? Number(row.total) - Number(row.notDue) : 0;
      if (pastDue <= 0) continue;
      const { rows } = await sql<{ id: number }>`
        insert into odoo.account_move_line
        select (jsonb_populate_record(null::odoo.account_move_line, to_jsonb(l) || jsonb_build_object(
          'id', (select max(id) + 1 from odoo.account_move_line),
          'balance', ${-pastDue}::numeric, 'debit', 0, 'credit', ${pastDue}::numeric,
          'amount_currency', ${-pastDue}::numeric, 'amount_residual', ${-pastDue}::numeric,
          'amount_residual_currency', ${-pastDue}::numeric, 'reconciled', false,
          'full_reconcile_id', null, 'matching_number', null))).*
        from odoo.account_move_line l
        where l.id = (select l2.id from odoo.account_move_line l2
          join odoo.account_account a on a.id = l2.account_id and a.account_type = 'asset_receivable'
          where l2.partner_id = ${partnerId} and l2.company_id = ${company.companyId}
            and l2.parent_state = 'posted' and l2._deleted_at is null and l2.date_maturity < ${asOf}::date
          order by l2.id limit 1)
        returning id`.execute(world.db);
      expect(rows).toHaveLength(1);
      added.push(rows[0]!.id);
    }
    expect(added.length).toBeGreaterThan(0);
    try {
      const after = await aging(world.db, { kind: "receivable", asOf, partnerIds: [partnerId] });
      for (const company of after.companies) {
        const row = company.partners.find((p) => p.partnerId === partnerId);
        if (row) expect(Number(row.total) - Number(row.notDue)).toBeLessThanOrEqual(0);
      }
      const sentBefore = smtp.received.length;
      const id = await startMailing(world, "reminder", { partnerIds: [partnerId] });
      const { mailing, messages } = await waitForMailing(world, id);
      expect(mailing.status).toBe("done");
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ state: "skipped" });
      expect(messages[0]!.skip_reason).toMatch(/covered by credit notes or payments/);
      expect(smtp.received.length).toBe(sentBefore);
    } finally {
      await world.db.deleteFrom("odoo.account_move_line").where("id", "in", added).execute();
    }
  });

  it("a tampered DKIM-signed message does not verify (the check can fail)", async () => {
    const sample = smtp.received.find((r) => r.parsed.headers.has("dkim-signature"))!;
    const tampered = Buffer.from(sample.raw.toString().replace(/Subject: /, "Subject: X"));
    const publicKey = keys.publicKey.export({ type: "spki", format: "der" }).toString("base64");
    const verified = await dkimVerify(tampered, {
      resolver: async () => [[`v=DKIM1; k=rsa; p=${publicKey}`]],
    });
    expect(verified.results[0]?.status.result).not.toBe("pass");
  });
});

describe("custom mailing", () => {
  it("renders the chosen template for each partner in its language, and a dry run sends nothing", async () => {
    const template = await world.db
      .insertInto("mail.templates")
      .values({
        key: "greeting",
        kind: "custom",
        lang: "en",
        name: "Greeting",
        subject: "Hello {{ partner.name }}",
        html: "<p>Hello {{ partner.name }}, you owe {% for t in totals %}{{ t.open | money: t.currency }}{% endfor %}.</p>",
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await world.db
      .insertInto("mail.templates")
      .values({
        key: "greeting",
        kind: "custom",
        lang: "es",
        name: "Saludo",
        subject: "Hola {{ partner.name }}",
        html: "<p>Hola</p>",
      })
      .execute();
    const partners = await world.db
      .selectFrom("odoo.res_partner")
      .select(["id", "lang", "name"])
      .where("email", "is not", null)
      .where("lang", "in", ["en_US", "es_ES"])
      .orderBy("id")
      .limit(6)
      .execute();
    const dry = await startMailing(
      world,
      "custom",
      { templateId: template.id, partnerIds: partners.map((p) => p.id) },
      { dryRun: true },
    );
    const before = smtp.received.length;
    const planned = await waitForMailing(world, dry);
    expect(planned.mailing.status).toBe("planned");
    expect(planned.mailing.preview).toMatchObject({ subject: expect.stringMatching(/^(Hello|Hola) /) });
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.received.length).toBe(before);

    const id = await startMailing(world, "custom", {
      templateId: template.id,
      partnerIds: partners.map((p) => p.id),
    });
    const { messages } = await waitForMailing(world, id);
    for (const p of partners) {
      const m = messages.find((x) => x.partner_id === p.id)!;
      expect(m.state).toBe("sent");
      const got = smtp.received.find((r) => r.parsed.messageId === `<${m.message_id}>`)!;
      expect(got.parsed.subject).toBe(`${p.lang === "en_US" ? "Hello" : "Hola"} ${p.name}`);
      expect(headerOf(got.raw, "List-Unsubscribe")).toMatch(/^<http:\/\/api\.finanzas\.test\//);
    }
  });
});
