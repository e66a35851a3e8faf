import { randomUUID } from "node:crypto";
import type { Mailing, MailMessage, MailTemplate } from "@finanzas/contracts";
import { unsubscribeToken } from "@finanzas/mail";
import { TEST_REDIS_URL } from "@finanzas/testing";
import type { Static } from "@sinclair/typebox";
import { startTestMailer, type TestMailer } from "mailer/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Etl, startEtl } from "./etl.js";
import { auth, logger, startTestApp, type TestApp } from "./helpers.js";
import { headerOf, startTestSmtp, type TestSmtp } from "./smtp.js";

/*
 * The mail API over data synced from the Odoo simulator, with the real mailer planning and sending
 * the mailings it starts to a real SMTP server: dry runs, mailings and their messages, cancel,
 * resend, templates with their previews and test sends, and the suppression list, fed by the
 * one-click unsubscribe link of a message the mailer really sent.
 */

const SECRET = "unsubscribe-secret-for-the-mail-api-tests-0123456789";
const PUBLIC_URL = "http://api.finanzas.test";

type MailingDto = Static<typeof Mailing>;
type MessageDto = Static<typeof MailMessage>;
type TemplateDto = Static<typeof MailTemplate>;
type Who = "admin" | "finance" | "viewer";

let t: TestApp;
let etl: Etl;
let smtp: TestSmtp;
let mailer: TestMailer;

beforeAll(async () => {
  t = await startTestApp("mail", { env: { MAIL_UNSUBSCRIBE_SECRET: SECRET } });
  etl = await startEtl(t);
  const { run } = await etl.sync({ mode: "full" });
  expect(run.status).toBe("succeeded");
  smtp = await startTestSmtp();
  mailer = await startTestMailer({
    connection: { redisUrl: TEST_REDIS_URL, prefix: t.prefix },
    db: t.database.db,
    logger,
    smtpUrl: smtp.url,
    publicUrl: PUBLIC_URL,
    unsubscribeSecret: SECRET,
  });
}, 120_000);

afterAll(async () => {
  await mailer?.close();
  await smtp?.close();
  await etl?.close();
  await t?.close();
});

const api = (who: Who | null, method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: unknown) =>
  t.app.inject({
    method,
    url,
    headers: who ? auth(t.tokens[who]) : {},
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

const mailingOf = async (id: string): Promise<MailingDto> => {
  const res = await api("finance", "GET", `/api/v1/mailings/${id}`);
  expect(res.statusCode).toBe(200);
  return res.json();
};

/** Polls the mailing until it is in `status`. */
async function waitForMailing(id: string, status: string, timeoutMs = 60_000): Promise<MailingDto> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mailing = await mailingOf(id);
    if (mailing.status === status) return mailing;
    if (mailing.status === "failed" || Date.now() > deadline) {
      throw new Error(`mailing ${id} is ${mailing.status} (${mailing.error}), not ${status}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every message of a mailing, page by page (`limit` a page). */
async function messagesOf(id: string, query = "", limit = 50): Promise<MessageDto[]> {
  const all: MessageDto[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(
      "finance",
      "GET",
      `/api/v1/mailings/${id}/messages?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ""}`,
    );
    expect(res.statusCode).toBe(200);
    const page = res.json() as { items: MessageDto[]; next: string | null };
    all.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return all;
}

const startMailing = async (body: Record<string, unknown>, who: Who = "finance") => {
  const res = await api(who, "POST", "/api/v1/mailings", body);
  expect(res.statusCode, res.body).toBe(202);
  return res.json() as { mailingId: string; status: string; dryRun: boolean };
};

const received = (to: string) => smtp.received.filter((m) => m.to.includes(to));

// set by the tests in order: recipients of the dry run, the mailing sent to three of them
let recipients: MessageDto[] = [];
let dryRunId: string;
let sentId: string;
let template: TemplateDto;

describe("mailings", () => {
  it("are for admin and finance: viewer 403, no token 401", async () => {
    expect((await api("viewer", "GET", "/api/v1/mailings")).statusCode).toBe(403);
    expect((await api("viewer", "POST", "/api/v1/mailings", { kind: "statement" })).statusCode).toBe(403);
    expect((await api("viewer", "GET", "/api/v1/mail/templates")).statusCode).toBe(403);
    expect((await api("viewer", "GET", "/api/v1/mail/suppressions")).statusCode).toBe(403);
    expect((await api(null, "GET", "/api/v1/mailings")).statusCode).toBe(401);
    expect((await api(null, "POST", "/api/v1/mailings", { kind: "statement" })).statusCode).toBe(401);
    expect((await api("admin", "GET", "/api/v1/mailings")).statusCode).toBe(200);
    expect((await api("finance", "GET", "/api/v1/mail/templates")).statusCode).toBe(200);
  });

  it("refuse a bad request with a 400 naming each bad field, and an unknown id with 404", async () => {
    const errorsOf = async (body: unknown) => {
      const res = await api("finance", "POST", "/api/v1/mailings", body);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      return (res.json() as { errors: { field: string; message: string }[] }).errors;
    };
    // each kind is checked against its own fields only
    expect(await errorsOf({ kind: "custom", partnerIds: [1] })).toEqual([
      { field: "body.templateId", message: "is required" },
    ]);
    expect(await errorsOf({ kind: "weekly" })).toEqual([
      { field: "body.kind", message: "must be one of statement, reminder, custom" },
    ]);
    expect(await errorsOf({})).toEqual([{ field: "body.kind", message: "is required" }]);
    expect(
      (await errorsOf({ kind: "statement", partnerIds: [], foo: 1 })).map((e) => e.field).sort(),
    ).toEqual(["body.foo", "body.partnerIds"]);
    expect(await errorsOf({ kind: "reminder", asOf: "2024-13-45" })).toEqual([
      { field: "body.asOf", message: 'must match format "date"' },
    ]);
    expect(await errorsOf({ kind: "custom", templateId: randomUUID(), partnerIds: [1] })).toEqual([
      { field: "body.templateId", message: "is not a mail template" },
    ]);
    expect(await errorsOf({ kind: "statement", companyId: 999_999 })).toEqual([
      { field: "body.companyId", message: "is not a synced company" },
    ]);
    expect((await api("finance", "GET", `/api/v1/mailings/${randomUUID()}`)).statusCode).toBe(404);
    expect((await api("finance", "GET", `/api/v1/mailings/${randomUUID()}/messages`)).statusCode).toBe(404);
    const notUuid = await api("finance", "GET", "/api/v1/mailings/12");
    expect(notUuid.statusCode).toBe(400);
    expect(notUuid.json().errors[0].field).toBe("path.id");
  });

  it("a dry run counts the recipients (and who is skipped, and why), renders a preview and sends nothing", async () => {
    const accepted = await startMailing({ kind: "statement", dryRun: true });
    expect(accepted).toMatchObject({ status: "planning", dryRun: true });
    dryRunId = accepted.mailingId;
    const mailing = await waitForMailing(dryRunId, "planned");
    expect(mailing.dryRun).toBe(true);
    expect(mailing.progress).toBe(100);
    expect(mailing.counts.queued).toBeGreaterThan(3);
    expect(mailing.counts.sent + mailing.counts.sending + mailing.counts.failed).toBe(0);
    expect(mailing.total).toBe(Object.values(mailing.counts).reduce((a, b) => a + b, 0));
    expect(mailing.requestedBy).not.toBeNull();

    // the messages, page by page, agree with the counts; the skipped ones say why
    const messages = await messagesOf(dryRunId, "", 7);
    expect(messages).toHaveLength(mailing.total);
    expect(new Set(messages.map((m) => m.partnerId)).size).toBe(messages.length);
    recipients = messages.filter((m) => m.state === "queued");
    expect(recipients).toHaveLength(mailing.counts.queued);
    for (const m of recipients) expect(m.email).toMatch(/@/);
    for (const m of messages.filter((m) => m.state === "skipped")) expect(m.skipReason).toBeTruthy();
    expect(await messagesOf(dryRunId, "&state=skipped")).toHaveLength(mailing.counts.skipped);

    // the preview is the first recipient's statement
    const first = recipients[0]!;
    expect(mailing.preview).toMatchObject({ partnerId: first.partnerId, to: first.email });
    expect(mailing.preview!.subject).toContain(first.partnerName);
    expect(mailing.preview!.html).toContain("<table");

    // nothing went out, then or since
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.received).toHaveLength(0);
    expect((await mailingOf(dryRunId)).counts.queued).toBe(mailing.counts.queued);
  });

  it("a mailing started through the API sends each message once and shows its messages and counts", async () => {
    const chosen = recipients.slice(0, 3);
    const accepted = await startMailing({ kind: "statement", partnerIds: chosen.map((m) => m.partnerId) });
    expect(accepted).toMatchObject({ status: "planning", dryRun: false });
    sentId = accepted.mailingId;
    const mailing = await waitForMailing(sentId, "done");
    expect(mailing.counts).toMatchObject({ sent: 3, queued: 0, failed: 0, unknown: 0 });
    expect(mailing).toMatchObject({ total: 3, progress: 100, dryRun: false });
    expect(mailing.finishedAt).not.toBeNull();

    const sent = await messagesOf(sentId, "&state=sent", 2);
    expect(sent.map((m) => m.partnerId)).toEqual(chosen.map((m) => m.partnerId));
    for (const m of sent) {
      expect(m).toMatchObject({ state: "sent", attempts: 1, lastError: null });
      expect(m.sentAt).not.toBeNull();
      expect(m.smtpResponse).toContain("Ok: queued");
      const got = smtp.received.filter((r) => headerOf(r.raw, "Message-ID") === `<${m.messageId}>`);
      expect(got).toHaveLength(1);
      expect(got[0]!.to).toEqual([m.email]);
      expect(got[0]!.parsed.subject).toContain(m.partnerName);
    }
    expect(await messagesOf(sentId, "&state=failed")).toEqual([]);

    // newest first, page by page, and filtered
    const list = await api("finance", "GET", "/api/v1/mailings?limit=1");
    const firstPage = list.json() as { items: MailingDto[]; next: string | null };
    expect(firstPage.items.map((m) => m.id)).toEqual([sentId]);
    expect(firstPage.items[0]!.counts.sent).toBe(3);
    const second = await api("finance", "GET", `/api/v1/mailings?limit=1&cursor=${firstPage.next}`);
    expect(second.json().items.map((m: MailingDto) => m.id)).toEqual([dryRunId]);
    expect(second.json().next).toBeNull();
    const planned = await api("admin", "GET", "/api/v1/mailings?status=planned&kind=statement");
    expect(planned.json().items.map((m: MailingDto) => m.id)).toEqual([dryRunId]);
    const bad = await api("finance", "GET", "/api/v1/mailings?cursor=bm9wZQ");
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([
      { field: "query.cursor", message: "is not a cursor this list returned" },
    ]);
  });

  it("cancel: a planned mailing's messages are cancelled; a finished mailing is a 409, an unknown one a 404", async () => {
    const before = await mailingOf(dryRunId);
    const res = await api("finance", "POST", `/api/v1/mailings/${dryRunId}/cancel`);
    expect(res.statusCode, res.body).toBe(200);
    const cancelled = res.json() as MailingDto;
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.cancelledAt).not.toBeNull();
    expect(cancelled.counts).toMatchObject({ queued: 0, cancelled: before.counts.queued });
    expect(await messagesOf(dryRunId, "&state=cancelled")).toHaveLength(before.counts.queued);

    const again = await api("finance", "POST", `/api/v1/mailings/${dryRunId}/cancel`);
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toContain("is cancelled");
    const done = await api("admin", "POST", `/api/v1/mailings/${sentId}/cancel`);
    expect(done.statusCode).toBe(409);
    expect((await mailingOf(sentId)).status).toBe("done");
    expect((await api("finance", "POST", `/api/v1/mailings/${randomUUID()}/cancel`)).statusCode).toBe(404);
  });

  it("resend: an unknown message goes out again (same Message-ID); a sent one is a 409", async () => {
    const [unknown, other] = await messagesOf(sentId);
    await t.database.pool.query(
      "update mail.messages set state = 'unknown', last_error = 'the mailer stopped while sending' where id = $1",
      [unknown!.id],
    );
    expect((await mailingOf(sentId)).counts).toMatchObject({ sent: 2, unknown: 1 });
    const copies = () =>
      smtp.received.filter((r) => headerOf(r.raw, "Message-ID") === `<${unknown!.messageId}>`);
    expect(copies()).toHaveLength(1);

    const sentAgain = await api("finance", "POST", `/api/v1/mailings/${sentId}/messages/${other!.id}/resend`);
    expect(sentAgain.statusCode).toBe(409);
    expect(sentAgain.json().detail).toContain("is sent");
    const elsewhere = await api(
      "finance",
      "POST",
      `/api/v1/mailings/${dryRunId}/messages/${unknown!.id}/resend`,
    );
    expect(elsewhere.statusCode).toBe(404);

    const res = await api("finance", "POST", `/api/v1/mailings/${sentId}/messages/${unknown!.id}/resend`);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ id: unknown!.id, state: "queued", lastError: null });
    const deadline = Date.now() + 30_000;
    while (copies().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(copies()).toHaveLength(2);
    expect(copies()[1]!.to).toEqual([unknown!.email]);
    const mailing = await waitForMailing(sentId, "done");
    expect(mailing.counts).toMatchObject({ sent: 3, unknown: 0 });
    // a second resend of the same message is refused: it was sent
    const twice = await api("finance", "POST", `/api/v1/mailings/${sentId}/messages/${unknown!.id}/resend`);
    expect(twice.statusCode).toBe(409);
  });

  it("resend: a failed message of a cancelled mailing is a 409 and stays failed", async () => {
    const [message] = await messagesOf(dryRunId, "&state=cancelled");
    await t.database.pool.query("update mail.messages set state = 'failed' where id = $1", [message!.id]);
    const res = await api("finance", "POST", `/api/v1/mailings/${dryRunId}/messages/${message!.id}/resend`);
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().detail).toContain("is cancelled");
    const [after] = await messagesOf(dryRunId, "&state=failed");
    expect(after).toMatchObject({ id: message!.id, state: "failed" });
    expect((await mailingOf(dryRunId)).status).toBe("cancelled");
  });
});

describe("templates", () => {
  const html =
    '<p>{{ partner.name }}</p>{% for t in totals %}<p class="total">{{ t.company_id }}|{{ t.open }}|{{ t.currency }}</p>{% endfor %}{% if unsubscribe_url %}<p><a href="{{ unsubscribe_url }}">baja</a></p>{% endif %}';

  it("list the shipped ones; create, read and update, checked before they are stored", async () => {
    const list = await api("finance", "GET", "/api/v1/mail/templates");
    const shipped = (list.json().items as TemplateDto[]).filter((x) => x.builtin);
    expect(shipped.map((x) => `${x.key}/${x.lang}`).sort()).toEqual(
      ["statement", "reminder-1", "reminder-2", "reminder-3", "reminder-4"]
        .flatMap((k) => [`${k}/en`, `${k}/es`])
        .sort(),
    );

    const body = {
      key: "aviso-saldo",
      kind: "custom",
      lang: "es",
      name: "Aviso de saldo",
      subject: "Saldo de {{ partner.name }}",
      html,
    };
    const created = await api("finance", "POST", "/api/v1/mail/templates", body);
    expect(created.statusCode, created.body).toBe(201);
    template = created.json();
    expect(template).toMatchObject({ ...body, text: null, builtin: false });
    expect((await api("admin", "POST", "/api/v1/mail/templates", body)).statusCode).toBe(409);
    const broken = await api("finance", "POST", "/api/v1/mail/templates", {
      ...body,
      key: "roto",
      html: "<p>{% for x in %}</p>",
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().errors[0].field).toBe("body.html");
    const missing = await api("finance", "POST", "/api/v1/mail/templates", { ...body, subject: undefined });
    expect(missing.json().errors).toEqual([{ field: "body.subject", message: "is required" }]);

    expect((await api("finance", "GET", `/api/v1/mail/templates/${template.id}`)).json()).toEqual(template);
    expect((await api("finance", "GET", `/api/v1/mail/templates/${randomUUID()}`)).statusCode).toBe(404);

    const renamed = await api("finance", "PATCH", `/api/v1/mail/templates/${template.id}`, {
      name: "Aviso de saldo pendiente",
    });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ name: "Aviso de saldo pendiente", subject: body.subject });
    template = renamed.json();
    const patch = (payload: unknown, id = template.id) =>
      api("finance", "PATCH", `/api/v1/mail/templates/${id}`, payload);
    expect((await patch({})).statusCode).toBe(400);
    expect((await patch({ kind: "reminder" })).json().errors).toEqual([
      { field: "body.kind", message: "is not an accepted field" },
    ]);
    expect((await patch({ subject: "{% if partner.name %}sin cerrar" })).json().errors[0].field).toBe(
      "body.subject",
    );
    expect((await patch({ name: "x" }, randomUUID())).statusCode).toBe(404);
    // nothing of the refused changes was stored
    expect((await api("finance", "GET", `/api/v1/mail/templates/${template.id}`)).json()).toEqual(template);
  });

  it("preview a stored template or a draft for a partner, with the partner's figures (those of the aging report)", async () => {
    const partner = recipients[0]!;
    const res = await api("finance", "POST", `/api/v1/mail/templates/${template.id}/preview`, {
      partnerId: partner.partnerId,
    });
    expect(res.statusCode, res.body).toBe(200);
    const preview = res.json();
    expect(preview).toMatchObject({
      partnerId: partner.partnerId,
      to: partner.email,
      skipReason: null,
      subject: `Saldo de ${partner.partnerName}`,
    });
    expect(preview.html).toContain('<a href="https://example.invalid/unsubscribe">');

    const aging = (await api("finance", "GET", "/api/v1/aging?kind=receivable")).json() as {
      companies: { companyId: number; currency: string; partners: { partnerId: number; total: string }[] }[];
    };
    const expected = aging.companies
      .map((c) => ({ c, row: c.partners.find((p) => p.partnerId === partner.partnerId) }))
      .filter(({ row }) => row !== undefined)
      .map(({ c, row }) => [c.companyId, Number(row!.total).toFixed(2), c.currency]);
    expect(expected.length).toBeGreaterThan(0);
    const shown = [
      ...(preview.html as string).matchAll(/<p class="total">(\d+)\|(-?[\d.]+)\|(\w+)<\/p>/g),
    ].map(([, company, open, currency]) => [Number(company), Number(open).toFixed(2), currency]);
    expect(shown).toEqual(expected);

    // the shipped statement, and a draft given in the body
    const shippedId = (
      (await api("finance", "GET", "/api/v1/mail/templates")).json().items as TemplateDto[]
    ).find((x) => x.key === "statement" && x.lang === "en")!.id;
    const statement = await api("admin", "POST", `/api/v1/mail/templates/${shippedId}/preview`, {
      partnerId: partner.partnerId,
    });
    expect(statement.json().subject).toContain(`Statement of account for ${partner.partnerName}`);
    const draft = await api("finance", "POST", "/api/v1/mail/templates/preview", {
      kind: "reminder",
      subject: "Nivel {{ level.level }} para {{ partner.name }}",
      html: html,
      partnerId: partner.partnerId,
    });
    expect(draft.statusCode, draft.body).toBe(200);
    expect(draft.json().subject).toMatch(new RegExp(`^Nivel \\d* para ${partner.partnerName}$`));
    expect(draft.json().html).toContain(`<p class="total">${expected[0]![0]}|`);

    const broken = await api("finance", "POST", "/api/v1/mail/templates/preview", {
      kind: "custom",
      subject: "x",
      html: "{{ partner.name | nosuchfilter }}",
      partnerId: partner.partnerId,
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().errors[0].field).toBe("body.html");
    const nobody = await api("finance", "POST", `/api/v1/mail/templates/${template.id}/preview`, {
      partnerId: 2_000_000_000,
    });
    expect(nobody.statusCode).toBe(400);
    expect(nobody.json().errors).toEqual([{ field: "body.partnerId", message: "is not a synced partner" }]);
    expect((await api("viewer", "POST", "/api/v1/mail/templates/preview", {})).statusCode).toBe(403);
  });

  it("a reminder's preview says why a reminder mailing would skip the partner", async () => {
    const aging = (await api("finance", "GET", "/api/v1/aging?kind=receivable")).json() as {
      companies: { partners: { partnerId: number; total: string; notDue: string }[] }[];
    };
    const pastDue = new Set(
      aging.companies.flatMap((c) =>
        c.partners.filter((p) => Number(p.total) !== Number(p.notDue)).map((p) => p.partnerId),
      ),
    );
    const partners = (await api("finance", "GET", "/api/v1/partners?limit=200")).json().items as {
      id: number;
      email: string | null;
    }[];
    const current = partners.find((p) => p.email?.includes("@") && !pastDue.has(p.id));
    expect(current, "a partner with an address and nothing past due").toBeDefined();
    const reminder = (
      (await api("finance", "GET", "/api/v1/mail/templates")).json().items as TemplateDto[]
    ).find((x) => x.key === "reminder-1" && x.lang === "en")!;
    const res = await api("finance", "POST", `/api/v1/mail/templates/${reminder.id}/preview`, {
      partnerId: current!.id,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ to: current!.email, skipReason: "no overdue items" });
    // the same partner, previewed with a custom template, would be sent it
    const custom = await api("finance", "POST", `/api/v1/mail/templates/${template.id}/preview`, {
      partnerId: current!.id,
    });
    expect(custom.json()).toMatchObject({ skipReason: null });
  });

  it("test send: one message, rendered for the partner, to the caller's own address only", async () => {
    const partner = recipients[0]!;
    const before = received(partner.email!).length;
    const res = await api("finance", "POST", `/api/v1/mail/templates/${template.id}/test`, {
      partnerId: partner.partnerId,
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().to).toBe("finance@example.com");
    const mailing = await waitForMailing(res.json().mailingId, "done");
    expect(mailing.counts.sent).toBe(1);
    expect(mailing.total).toBe(1);
    const got = received("finance@example.com");
    expect(got).toHaveLength(1);
    expect(got[0]!.to).toEqual(["finance@example.com"]);
    expect(got[0]!.parsed.subject).toBe(`Saldo de ${partner.partnerName}`);
    expect(received(partner.email!)).toHaveLength(before);
    expect(
      (
        await api("viewer", "POST", `/api/v1/mail/templates/${template.id}/test`, {
          partnerId: partner.partnerId,
        })
      ).statusCode,
    ).toBe(403);
  });
});

describe("the suppression list and one-click unsubscribe", () => {
  const suppressed = async () =>
    (await api("finance", "GET", "/api/v1/mail/suppressions?limit=200")).json().items as {
      email: string;
      reason: string;
    }[];

  it("the List-Unsubscribe link of a sent message: GET shows a page and changes nothing, POST suppresses", async () => {
    const used = new Set(recipients.slice(0, 3).map((m) => m.email));
    const partner = recipients.find((m) => !used.has(m.email))!;
    const { mailingId } = await startMailing({
      kind: "custom",
      templateId: template.id,
      partnerIds: [partner.partnerId],
    });
    await waitForMailing(mailingId, "done");
    const [message] = received(partner.email!);
    expect(message).toBeDefined();
    expect(headerOf(message!.raw, "List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
    const link = /<([^>]+)>/.exec(headerOf(message!.raw, "List-Unsubscribe"))?.[1]?.replace(/\s+/g, "");
    expect(link).toMatch(/^http:\/\/api\.finanzas\.test\/api\/v1\/mail\/unsubscribe\?token=[\w.-]+$/);
    const url = new URL(link!);
    const path = `${url.pathname}${url.search}`;

    // what a mail scanner or a person's browser fetches first: a page, nothing suppressed
    const page = await t.app.inject({ method: "GET", url: path });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain(partner.email!.toLowerCase());
    expect(page.body).toContain('<form method="post"');
    expect(page.body).toContain('name="List-Unsubscribe" value="One-Click"');
    expect((await suppressed()).map((s) => s.email)).not.toContain(partner.email!.toLowerCase());

    // RFC 8058: the mail provider POSTs List-Unsubscribe=One-Click to the link, without a login
    const res = await t.app.inject({
      method: "POST",
      url: path,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "List-Unsubscribe=One-Click",
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(await suppressed()).toContainEqual(
      expect.objectContaining({ email: partner.email!.toLowerCase(), reason: "unsubscribed" }),
    );
    // again is fine; and a mailing to that partner now skips it
    expect(
      (await t.app.inject({ method: "POST", url: path, payload: "List-Unsubscribe=One-Click" })).statusCode,
    ).toBe(200);
    const next = await startMailing({
      kind: "custom",
      templateId: template.id,
      partnerIds: [partner.partnerId],
      dryRun: true,
    });
    await waitForMailing(next.mailingId, "planned");
    const [skipped] = await messagesOf(next.mailingId);
    expect(skipped).toMatchObject({ state: "skipped", skipReason: "address suppressed (unsubscribed)" });

    // taken off the list by a person: written to again
    const email = encodeURIComponent(partner.email!.toUpperCase());
    expect((await api("viewer", "DELETE", `/api/v1/mail/suppressions/${email}`)).statusCode).toBe(403);
    expect((await api("finance", "DELETE", `/api/v1/mail/suppressions/${email}`)).statusCode).toBe(204);
    expect((await suppressed()).map((s) => s.email)).not.toContain(partner.email!.toLowerCase());
    expect((await api("finance", "DELETE", `/api/v1/mail/suppressions/${email}`)).statusCode).toBe(404);
  });

  it("a token made with the mailer's signer suppresses its address, whatever the body; a tampered one is a 400", async () => {
    const post = (token: string, headers: Record<string, string> = {}, payload = "") =>
      t.app.inject({
        method: "POST",
        url: `/api/v1/mail/unsubscribe?token=${encodeURIComponent(token)}`,
        headers,
        payload,
      });
    const token = unsubscribeToken(SECRET, { email: "Someone@Example.org", messageId: randomUUID() });
    const [payload, signature] = token.split(".") as [string, string];
    const other = Buffer.from(JSON.stringify({ e: "victim@example.org", m: randomUUID() })).toString(
      "base64url",
    );
    const tampered = [
      `${payload}.${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`,
      `${other}.${signature}`,
      unsubscribeToken("another-secret-of-at-least-32-characters!!", {
        email: "x@example.org",
        messageId: "m",
      }),
      "not-a-token",
    ];
    for (const bad of tampered) {
      for (const method of ["POST", "GET"] as const) {
        const res = await t.app.inject({ method, url: `/api/v1/mail/unsubscribe?token=${bad}` });
        expect(res.statusCode, `${method} ${bad}`).toBe(400);
        expect(res.json().errors).toEqual([
          { field: "query.token", message: "is not a valid unsubscribe token" },
        ]);
      }
    }
    const without = await t.app.inject({ method: "POST", url: "/api/v1/mail/unsubscribe" });
    expect(without.statusCode).toBe(400);
    expect(without.json().errors[0].field).toBe("query.token");
    expect((await suppressed()).map((s) => s.email)).not.toContain("victim@example.org");

    const boundary = "----finanzas";
    const res = await post(
      token,
      { "content-type": `multipart/form-data; boundary=${boundary}` },
      `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(await suppressed()).toContainEqual(
      expect.objectContaining({ email: "someone@example.org", reason: "unsubscribed" }),
    );
  });

  it("a person clicking a bad or incomplete link gets a page, in Spanish and English; an API client problem+json", async () => {
    const browser = {
      accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      "accept-language": "es-ES,es;q=0.9",
    };
    const token = unsubscribeToken(SECRET, { email: "clicker@example.org", messageId: randomUUID() });
    const [payload, signature] = token.split(".") as [string, string];
    const cut = `${payload}.${signature.slice(0, 10)}`; // a link broken by a mail client
    for (const [method, url] of [
      ["GET", `/api/v1/mail/unsubscribe?token=${cut}`],
      ["GET", "/api/v1/mail/unsubscribe"],
      ["GET", "/api/v1/mail/unsubscribe?token=%3Cscript%3E"],
      ["POST", `/api/v1/mail/unsubscribe?token=${cut}`], // the page's button, on a bad link
    ] as const) {
      const res = await t.app.inject({ method, url, headers: browser });
      expect(res.statusCode, `${method} ${url}`).toBe(400);
      expect(res.headers["content-type"]).toMatch(/^text\/html; charset=utf-8/);
      expect(res.headers.vary).toMatch(/Accept/);
      expect(res.body).toMatch(/^<!doctype html>/);
      expect(res.body).toContain("Enlace no válido");
      expect(res.body).toContain("Invalid link");
      expect(res.body).toContain(res.headers["x-request-id"] ?? "Referencia");
      expect(res.body).not.toContain("<script>");
      expect(res.body).not.toContain("query.token");
    }
    // API clients, curl and mail providers keep problem+json
    for (const accept of [undefined, "*/*", "application/json", "application/problem+json"]) {
      const res = await t.app.inject({
        method: "GET",
        url: `/api/v1/mail/unsubscribe?token=${cut}`,
        headers: accept ? { accept } : {},
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers["content-type"], String(accept)).toMatch(/^application\/problem\+json/);
      expect(res.json().errors).toEqual([
        { field: "query.token", message: "is not a valid unsubscribe token" },
      ]);
    }
    expect((await suppressed()).map((s) => s.email)).not.toContain("clicker@example.org");
  });

  it("speaks the recipient's language (from the message's partner) when it is Spanish or English, else both", async () => {
    const [es, en, fr] = await messagesOf(sentId);
    for (const [m, lang] of [
      [es, "es_AR"],
      [en, "en_US"],
      [fr, "fr_FR"],
    ] as const) {
      await t.database.pool.query("update mail.messages set lang = $2 where id = $1", [m!.id, lang]);
    }
    const link = (m: MessageDto, email: string) =>
      `/api/v1/mail/unsubscribe?token=${unsubscribeToken(SECRET, { email, messageId: m.id })}`;
    const browser = { accept: "text/html,*/*;q=0.8" };

    const english = await t.app.inject({
      method: "GET",
      url: link(en!, "lang-en@example.org"),
      headers: browser,
    });
    expect(english.statusCode).toBe(200);
    expect(english.body).toContain('<html lang="en">');
    expect(english.body).toContain("Stop receiving these emails at <strong>lang-en@example.org</strong>?");
    expect(english.body).toContain('<button type="submit">Unsubscribe</button>');
    expect(english.body).not.toContain("Darse de baja");

    // RFC 8058's one-click POST, as a mail provider sends it: the answer in the recipient's language
    const spanish = await t.app.inject({
      method: "POST",
      url: link(es!, "lang-es@example.org"),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "List-Unsubscribe=One-Click",
    });
    expect(spanish.statusCode).toBe(200);
    expect(spanish.body).toContain('<html lang="es">');
    expect(spanish.body).toContain("Baja confirmada");
    expect(spanish.body).not.toContain("Unsubscribed");

    const both = await t.app.inject({
      method: "GET",
      url: link(fr!, "lang-fr@example.org"),
      headers: browser,
    });
    expect(both.body).toContain("¿Dejar de recibir estos correos en <strong>lang-fr@example.org</strong>?");
    expect(both.body).toContain("Stop receiving these emails at <strong>lang-fr@example.org</strong>?");
    expect(both.body).toContain('<button type="submit">Darse de baja · Unsubscribe</button>');
    expect(await suppressed()).toContainEqual(
      expect.objectContaining({ email: "lang-es@example.org", reason: "unsubscribed" }),
    );
  });

  it("are documented: the page on success, problem+json or a page on error", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/openapi.json" })).json();
    for (const method of ["get", "post"]) {
      const operation = doc.paths["/api/v1/mail/unsubscribe"][method];
      expect(Object.keys(operation.responses["200"].content)).toEqual(["text/html"]);
      const problems = Object.keys(operation.responses).filter((code) => /^[45]/.test(code));
      expect(problems, method).toContain("400");
      expect(problems, method).toContain("5XX");
      for (const status of problems) {
        expect(Object.keys(operation.responses[status]?.content ?? {}), `${method} ${status}`).toEqual([
          "application/problem+json",
          "text/html",
        ]);
      }
    }
  });

  it("without MAIL_UNSUBSCRIBE_SECRET (outside production) the links the mailer signs are refused", async () => {
    const unkeyed = await startTestApp("mail_unkeyed", { testDb: t.testDb });
    try {
      const token = unsubscribeToken(SECRET, { email: "kept@example.org", messageId: randomUUID() });
      const res = await unkeyed.app.inject({
        method: "POST",
        url: `/api/v1/mail/unsubscribe?token=${token}`,
      });
      expect(res.statusCode).toBe(400);
      expect((await suppressed()).map((s) => s.email)).not.toContain("kept@example.org");
    } finally {
      await unkeyed.close();
    }
  });

  it("a person adds and lists addresses, page by page", async () => {
    const add = (email: string) =>
      api("finance", "POST", "/api/v1/mail/suppressions", { email, detail: "asked by phone" });
    const created = await add("Manual@Example.net");
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      email: "manual@example.net",
      reason: "manual",
      detail: "asked by phone",
    });
    expect((await add("manual@example.net")).statusCode).toBe(409);
    expect((await add("not an address")).json().errors[0].field).toBe("body.email");
    const all = (await suppressed()).map((s) => s.email);
    expect(all).toEqual([...all].sort());
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(
        "admin",
        "GET",
        `/api/v1/mail/suppressions?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
      const page = res.json() as { items: { email: string }[]; next: string | null };
      pages.push(...page.items.map((s) => s.email));
      cursor = page.next;
    } while (cursor);
    expect(pages).toEqual(all);
  });
});
