import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "@finanzas/db";
import type { Consumer } from "@finanzas/queue";
import { createFilesystemStorage } from "@finanzas/storage";
import { type PyBook, readWithOpenpyxl, TEST_REDIS_URL } from "@finanzas/testing";
import { createReportWorker } from "report-worker/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportAttachments } from "../src/attachments.js";
import {
  logger,
  messagesOf,
  type RunningMailer,
  startMailer,
  startMailing,
  startWorld,
  type World,
  waitForMailing,
} from "./harness.js";
import { startTestSmtp, type TestSmtp } from "./smtp.js";

/*
 * Statements and reminders carry the partner's statement workbook, end to end: the mailer plans
 * the mailing and requests each statement as the API does, a real report-worker consumer builds
 * it into storage, the message goes out once it is built, and the file the SMTP server received
 * opens in openpyxl with the balance due the email's body states.
 */

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

let world: World;
let smtp: TestSmtp;
let mailer: RunningMailer;
let reportWorker: Consumer;
let files: string;
let downloads: string;
let partnerIds: number[];
const today = new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  world = await startWorld("mailer_attachments");
  smtp = await startTestSmtp();
  files = mkdtempSync(join(tmpdir(), "mailer-reports-"));
  downloads = mkdtempSync(join(tmpdir(), "mailer-received-"));
  const storage = createFilesystemStorage({ dir: files });
  reportWorker = createReportWorker({
    connection: { redisUrl: TEST_REDIS_URL, prefix: world.prefix },
    logger,
    concurrency: 2,
    db: world.db,
    databaseUrl: world.database.url,
    storage,
    ttlHours: 72,
    statementTimeoutMs: 30_000,
  });
  mailer = startMailer(world, {
    smtpUrl: smtp.url,
    attachStatements: true,
    attachments: reportAttachments(world.db, storage),
  });
  // customers owing something today, with an address, some of them with overdue items
  const { rows } = await sql<{ partner_id: number }>`
    select l.partner_id
    from odoo.account_move_line l
    join odoo.account_account a on a.id = l.account_id and a.account_type = 'asset_receivable'
    join odoo.res_partner p on p.id = l.partner_id and p.email like '%@%' and p._deleted_at is null
    left join odoo.account_move m on m.id = l.move_id
    where l._deleted_at is null and l.parent_state = 'posted' and l.amount_residual <> 0
    group by l.partner_id
    having sum(l.amount_residual) > 0
      and bool_or(coalesce(l.date_maturity, m.invoice_date_due, l.date) < current_date - 1 and l.amount_residual > 0)
    order by l.partner_id
    limit 4`.execute(world.db);
  partnerIds = rows.map((r) => r.partner_id);
  expect(partnerIds.length).toBeGreaterThanOrEqual(2);
}, 180_000);

afterAll(async () => {
  await mailer?.close();
  await reportWorker?.close(5_000);
  await smtp?.stop();
  await world?.close();
  if (files) rmSync(files, { recursive: true, force: true });
  if (downloads) rmSync(downloads, { recursive: true, force: true });
});

let opened = 0;
/** A received attachment as openpyxl reads it. */
function open(content: Buffer): PyBook {
  const path = join(downloads, `${++opened}.xlsx`);
  writeFileSync(path, content);
  return readWithOpenpyxl(path);
}

/** Each company section of a statement: its currency and its balance due, as the workbook shows them. */
function balancesDue(book: PyBook): { currency: string; balance: number }[] {
  return book.sheets
    .filter((sheet) => sheet.title.startsWith("Statement"))
    .map((sheet) => {
      const values = sheet.rows.map((row) => row.map((cell) => cell?.v ?? null));
      const currency = values
        .flat()
        .map((v) => (typeof v === "string" ? v.match(/amounts in ([A-Z]{3})/)?.[1] : undefined))
        .find(Boolean);
      const due = values.find((row) => row[4] === "Balance due");
      expect(currency, `${sheet.title}: its currency`).toBeDefined();
      expect(typeof due?.[7], `${sheet.title}: its balance due`).toBe("number");
      return { currency: currency!, balance: due![7] as number };
    });
}

/** An amount as the partner's email states it (the template's `money` filter, in the partner's language). */
const money = (amount: number, currency: string, lang: string | null) =>
  new Intl.NumberFormat((lang ?? "es_ES").replace("_", "-"), { style: "currency", currency })
    .format(amount)
    .replace(/\s/g, " ");

describe("statement attachments", () => {
  let first: { partner_id: number; report_id: string | null; storage_key: string | null }[];

  it("are built by the report-worker and sent once built: the workbook's balance due is the email's", async () => {
    const before = smtp.received.length;
    const id = await startMailing(world, "statement", { partnerIds });
    const { mailing, messages } = await waitForMailing(world, id, 120_000);
    expect(mailing.status).toBe("done");
    expect(messages.map((m) => m.state)).toEqual(partnerIds.map(() => "sent"));
    const received = smtp.received.slice(before);
    expect(received).toHaveLength(partnerIds.length);
    for (const m of messages) {
      const mail = received.find((r) => r.parsed.messageId === `<${m.message_id}>`)!;
      expect(mail, `message to partner ${m.partner_id}`).toBeDefined();
      const attached = mail.parsed.attachments;
      expect(attached.map((f) => [f.filename, f.contentType])).toEqual([
        [`statement-${m.partner_id}-${today}.xlsx`, XLSX],
      ]);
      const book = open(attached[0]!.content);
      expect(book.props.title).toBe("Statement of account");
      const text = (mail.parsed.text ?? "").replace(/\s/g, " ");
      // the companies it owes something in (a company where it only has settled movements has a
      // section with nothing due, and no total in the email)
      const owing = balancesDue(book).filter((s) => s.balance !== 0);
      expect(owing.length, `partner ${m.partner_id} owes something`).toBeGreaterThan(0);
      for (const { currency, balance } of owing) {
        expect(text, `partner ${m.partner_id}: balance due in ${currency}`).toContain(
          money(balance, currency, m.lang),
        );
      }
    }
    first = (
      await sql<{ partner_id: number; report_id: string | null; storage_key: string | null }>`
        select m.partner_id, m.report_id, r.storage_key from mail.messages m
        left join reports.reports r on r.id = m.report_id
        where m.mailing_id = ${id} order by m.partner_id`.execute(world.db)
    ).rows;
    expect(first.every((r) => r.report_id !== null && r.storage_key !== null)).toBe(true);
  }, 150_000);

  it("are reused when an identical statement was built from the same data: no second build", async () => {
    const builds = async () =>
      Number(
        (
          await sql<{ n: string }>`select count(distinct storage_key) as n from reports.reports
            where kind = 'partner-statement'`.execute(world.db)
        ).rows[0]!.n,
      );
    const built = await builds();
    const before = smtp.received.length;
    const id = await startMailing(world, "statement", { partnerIds });
    const { messages } = await waitForMailing(world, id, 60_000);
    expect(messages.map((m) => m.state)).toEqual(partnerIds.map(() => "sent"));
    const again = (
      await sql<{ partner_id: number; report_id: string; storage_key: string; status: string }>`
        select m.partner_id, m.report_id, r.storage_key, r.status from mail.messages m
        join reports.reports r on r.id = m.report_id
        where m.mailing_id = ${id} order by m.partner_id`.execute(world.db)
    ).rows;
    // a record of its own for each message, pointing at the file built for the first mailing
    expect(again.map((r) => [r.partner_id, r.status, r.storage_key])).toEqual(
      first.map((r) => [r.partner_id, "succeeded", r.storage_key]),
    );
    expect(again.every((r, i) => r.report_id !== first[i]!.report_id)).toBe(true);
    expect(await builds()).toBe(built);
    const received = smtp.received.slice(before);
    for (const [i, m] of (await messagesOf(world, id)).entries()) {
      const mail = received.find((r) => r.parsed.messageId === `<${m.message_id}>`)!;
      const earlier = smtp.received.find(
        (r) => r.parsed.attachments[0]?.filename === `statement-${first[i]!.partner_id}-${today}.xlsx`,
      )!;
      expect(mail.parsed.attachments[0]!.content.equals(earlier.parsed.attachments[0]!.content)).toBe(true);
    }
  }, 90_000);
});

describe("a statement that cannot be attached", () => {
  it("fails its message, saying why, and sends nothing", async () => {
    const [partnerId] = partnerIds;
    const { rows } = await sql<{ storage_key: string }>`select distinct r.storage_key from mail.messages m
      join reports.reports r on r.id = m.report_id where m.partner_id = ${partnerId!}`.execute(world.db);
    expect(rows).toHaveLength(1);
    rmSync(join(files, rows[0]!.storage_key)); // expired and swept, while its records still say built
    const before = smtp.received.length;
    const id = await startMailing(world, "statement", { partnerIds: [partnerId!] });
    const { mailing, messages } = await waitForMailing(world, id, 60_000);
    expect(mailing.status).toBe("done");
    expect(messages).toMatchObject([{ state: "failed", last_error: expect.stringMatching(/is gone/) }]);
    expect(smtp.received.length).toBe(before);
  }, 90_000);
});

describe("reminder attachments", () => {
  it("carry the partner's statement too", async () => {
    const before = smtp.received.length;
    const id = await startMailing(world, "reminder", { partnerIds });
    const { mailing, messages } = await waitForMailing(world, id, 120_000);
    expect(mailing.status).toBe("done");
    const sent = messages.filter((m) => m.state === "sent");
    expect(sent.length).toBeGreaterThan(0);
    for (const m of sent) {
      const mail = smtp.received.slice(before).find((r) => r.parsed.messageId === `<${m.message_id}>`)!;
      const [file] = mail.parsed.attachments;
      expect(file?.filename).toBe(`statement-${m.partner_id}-${today}.xlsx`);
      const book = open(file!.content);
      expect(book.props.title).toBe("Statement of account");
      expect(balancesDue(book).length).toBeGreaterThan(0);
    }
  }, 150_000);
});
