import {
  DEFAULT_PAGE_SIZE,
  FINAL_MESSAGE_STATES,
  type Mailing,
  type MailingKind,
  type MailingStatus,
  type MailMessage,
  type MailTemplate,
  type MessageState,
  type mailQueue,
  type RenderedMessage,
  type Suppression,
  type SuppressionReason,
} from "@finanzas/contracts";
import { countActiveUnderUserLock } from "@finanzas/db";
import { companyList, type Db, NotFoundError, partnerNames, today } from "@finanzas/ledger";
import {
  cancelMailing,
  countsByMailing,
  countsOf,
  createMailing,
  createTemplate,
  getMailing,
  getMessage,
  getSuppression,
  getTemplate,
  languageOf,
  listMailings,
  listMessages,
  listSuppressions,
  listTemplates,
  type MailingRecord,
  type MessageRecord,
  markPlanningFailed,
  type PreviewSource,
  previewTemplate,
  requeueForResend,
  sendJobId,
  suppress,
  TemplateError,
  type TemplateRecord,
  type UnsubscribeClaim,
  unsuppress,
  updateTemplate,
  verifyUnsubscribeToken,
} from "@finanzas/mail";
import type { Producer } from "@finanzas/queue";
import type { Static } from "@sinclair/typebox";
import type { AppInstance } from "../app-types.js";
import { HttpProblem } from "../problem.js";
import { type ErrorPage, type MountDeps, mount } from "./mount.js";

export interface MailRouteDeps extends MountDeps {
  db: Db;
  /** The `mail` queue: mailings are planned and messages sent by the mailer. */
  mail: Producer<typeof mailQueue>;
  /** MAIL_UNSUBSCRIBE_SECRET: verifies the one-click unsubscribe links the mailer signs. */
  unsubscribeSecret: string;
  /** Mailings one user may have planning or sending at once (MAIL_MAX_ACTIVE_PER_USER). */
  maxActivePerUser: number;
}

/** A mailing is under way while it is planned or sent; a finished dry run is "planned", and over. */
const ACTIVE: readonly MailingStatus[] = ["planning", "sending"];

/*
 * Mail: mailings are created here and planned, sent, cancelled and resent through the mailer (the
 * `mail` queue; payloads carry ids, the rows in PostgreSQL are the truth); templates, previews and
 * the suppression list through @finanzas/mail, the same functions the mailer uses. The one-click
 * unsubscribe endpoint is public: its signed token is the only authority it needs, and it can do
 * nothing but suppress the address it names.
 */

/**
 * Planning settings of a preview. Neither changes what a preview renders or says: the template is
 * the one asked for (not a language variant chosen with defaultLang), and a preview is no reminder
 * mailing (whose skip reasons reminderMinDays decides).
 */
const PREVIEW_PLAN = { reminderMinDays: 7, defaultLang: "es" } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const OVER: readonly string[] = ["planned", "done", "cancelled", "failed"] satisfies MailingStatus[];

export function mailingDto(m: MailingRecord, counts: Record<MessageState, number>): Static<typeof Mailing> {
  const all = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const final = FINAL_MESSAGE_STATES.reduce((sum, s) => sum + counts[s], 0);
  return {
    id: m.id,
    kind: m.kind as MailingKind,
    params: m.params,
    status: m.status as MailingStatus,
    dryRun: m.dry_run,
    asOf: m.as_of,
    requestedBy: m.requested_by,
    total: m.total,
    counts,
    progress: OVER.includes(m.status) ? 100 : all > 0 ? Math.floor((final * 100) / all) : 0,
    preview: (m.preview as Static<typeof RenderedMessage> | null) ?? null,
    error: m.error,
    createdAt: m.created_at.toISOString(),
    plannedAt: iso(m.planned_at),
    finishedAt: iso(m.finished_at),
    cancelledAt: iso(m.cancelled_at),
  };
}

const messageDto = (m: MessageRecord): Static<typeof MailMessage> => ({
  id: m.id,
  mailingId: m.mailing_id,
  partnerId: m.partner_id,
  partnerName: m.partner_name,
  email: m.email,
  state: m.state as MessageState,
  level: m.level,
  messageId: m.message_id,
  attempts: m.attempts,
  skipReason: m.skip_reason,
  lastError: m.last_error,
  smtpResponse: m.smtp_response,
  sentAt: iso(m.sent_at),
  updatedAt: m.updated_at.toISOString(),
});

const templateDto = (t: TemplateRecord): Static<typeof MailTemplate> => ({
  id: t.id,
  key: t.key,
  kind: t.kind as MailingKind,
  lang: t.lang,
  name: t.name,
  subject: t.subject,
  html: t.html,
  text: t.text,
  builtin: t.builtin,
  updatedAt: t.updated_at.toISOString(),
});

const suppressionDto = (s: {
  email: string;
  reason: string;
  detail: string | null;
  created_at: Date;
}): Static<typeof Suppression> => ({
  email: s.email,
  reason: s.reason as SuppressionReason,
  detail: s.detail,
  createdAt: s.created_at.toISOString(),
});

/** Keyset cursors of these lists: the list's name and its position, base64url JSON. */
const encodeCursor = (list: string, ...position: (string | number)[]) =>
  Buffer.from(JSON.stringify([list, ...position])).toString("base64url");

function decodeCursor(cursor: string, list: string, valid: (position: unknown[]) => boolean): unknown[] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parsed) && parsed[0] === list && valid(parsed.slice(1))) return parsed.slice(1);
  } catch {
    // answered below
  }
  throw new HttpProblem(400, "invalid cursor: pass the `next` of the previous page of this list", [
    { field: "query.cursor", message: "is not a cursor this list returned" },
  ]);
}

const templateProblem = (error: TemplateError) =>
  new HttpProblem(400, `the template does not parse: ${error.message}`, [
    { field: `body.${error.part}`, message: error.message },
  ]);

/** PostgreSQL's unique violation: another template has this key and language. */
const isUniqueViolation = (error: unknown) => (error as { code?: unknown }).code === "23505";

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/*
 * The unsubscribe pages a person sees, in the recipient's language (the message's, from the
 * partner's res.partner.lang) when it is Spanish or English, else in both. An error page cannot
 * know the recipient (its link is not valid): it speaks both.
 */
type PageLang = "es" | "en";

const UNSUBSCRIBE_TEXTS = {
  es: {
    confirmTitle: "Darse de baja",
    confirm: (email: string) => `¿Dejar de recibir estos correos en <strong>${email}</strong>?`,
    button: "Darse de baja",
    doneTitle: "Baja confirmada",
    done: (email: string) => `No enviaremos más correos de este tipo a <strong>${email}</strong>.`,
    invalidTitle: "Enlace no válido",
    invalid:
      "Este enlace para darse de baja no es válido: está incompleto o ha sido modificado. Abra el enlace del correo tal como llegó, o responda al correo para pedir la baja.",
    failedTitle: "No se pudo completar",
    failed: "No pudimos atender su solicitud ahora. Inténtelo de nuevo más tarde.",
    reference: "Referencia",
  },
  en: {
    confirmTitle: "Unsubscribe",
    confirm: (email: string) => `Stop receiving these emails at <strong>${email}</strong>?`,
    button: "Unsubscribe",
    doneTitle: "Unsubscribed",
    done: (email: string) => `We will send no more of these emails to <strong>${email}</strong>.`,
    invalidTitle: "Invalid link",
    invalid:
      "This unsubscribe link is not valid: it is incomplete or has been altered. Open the link in the email as it arrived, or reply to the email to ask to be unsubscribed.",
    failedTitle: "Something went wrong",
    failed: "We could not handle your request right now. Please try again later.",
    reference: "Reference",
  },
} as const;

type Texts = (typeof UNSUBSCRIBE_TEXTS)[PageLang];

/** A page in `lang`, or in Spanish and English (one paragraph each) when it is null. */
function page(
  lang: PageLang | null,
  title: (t: Texts) => string,
  paragraphs: (t: Texts) => string[],
  form?: (button: string) => string,
): string {
  const langs: PageLang[] = lang ? [lang] : ["es", "en"];
  const heading = langs.map((l) => title(UNSUBSCRIBE_TEXTS[l])).join(" · ");
  const body = langs.flatMap((l) => paragraphs(UNSUBSCRIBE_TEXTS[l]).map((p) => `<p lang="${l}">${p}</p>`));
  // one form: its button says what it does in each language
  const button = form ? form(langs.map((l) => UNSUBSCRIBE_TEXTS[l].button).join(" · ")) : "";
  return `<!doctype html>
<html lang="${langs[0]}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${heading}</title></head>
<body><main><h1>${heading}</h1>
${body.join("\n")}${button ? `\n${button}` : ""}
</main></body></html>
`;
}

export async function mailRoutes(app: AppInstance, deps: MailRouteDeps): Promise<void> {
  const { db, mail, unsubscribeSecret } = deps;

  const mailingOr404 = async (id: string) => {
    const mailing = await getMailing(db, id);
    if (!mailing) throw new HttpProblem(404, `no mailing with id ${id}`);
    return mailing;
  };
  const templateOr404 = async (id: string) => {
    const template = await getTemplate(db, id);
    if (!template) throw new HttpProblem(404, `no mail template with id ${id}`);
    return template;
  };
  /** A company or partner named in a body must be in the synced copy: a 400 naming the field otherwise. */
  const checkCompany = async (companyId: number | undefined) => {
    if (companyId === undefined) return;
    try {
      await companyList(db, companyId);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      throw new HttpProblem(400, `no company with id ${companyId} in the synced copy`, [
        { field: "body.companyId", message: "is not a synced company" },
      ]);
    }
  };
  const checkPartner = async (partnerId: number) => {
    if (!(await partnerNames(db, [partnerId])).has(partnerId)) {
      throw new HttpProblem(400, `no partner with id ${partnerId} in the synced copy`, [
        { field: "body.partnerId", message: "is not a synced partner" },
      ]);
    }
  };
  /**
   * Creates a mailing of the caller's unless they have MAIL_MAX_ACTIVE_PER_USER under way (429).
   * The count and the insert run under a per-user advisory lock, so concurrent requests of one user
   * cannot each see room for one more.
   */
  const createOwnMailing = (input: Parameters<typeof createMailing>[1] & { requestedBy: string }) =>
    db.transaction().execute(async (trx) => {
      const active = await countActiveUnderUserLock(trx, "mail.mailings", input.requestedBy, ACTIVE);
      if (active >= deps.maxActivePerUser) {
        throw new HttpProblem(
          429,
          `you have ${active} mailings planning or sending (MAIL_MAX_ACTIVE_PER_USER allows ${deps.maxActivePerUser} at once): wait for one to finish, or cancel one (POST /api/v1/mailings/{id}/cancel)`,
        );
      }
      return createMailing(trx, input);
    });

  /** Puts a new mailing's planning on the queue; a mailing that cannot be queued is failed, not left planning. */
  const plan = async (mailing: MailingRecord) => {
    try {
      await mail.add("plan-mailing", { mailingId: mailing.id }, { jobId: mailing.id });
    } catch (error) {
      await markPlanningFailed(
        db,
        mailing.id,
        `could not be queued: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw error;
    }
  };

  // ── mailings ────────────────────────────────────────────────────────────────────────────────

  mount(app, deps, "listMailings", async ({ query }) => {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const before = query.cursor
      ? decodeCursor(
          query.cursor,
          "mailings",
          ([key, id]) =>
            typeof key === "string" &&
            /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(key) &&
            typeof id === "string" &&
            UUID.test(id),
        )
      : undefined;
    const found = await listMailings(db, {
      limit,
      kind: query.kind,
      status: query.status,
      before: before ? { createdKey: before[0] as string, id: before[1] as string } : undefined,
    });
    const counts = await countsByMailing(
      db,
      found.items.map((m) => m.id),
    );
    const last = found.items.at(-1);
    return {
      items: found.items.map((m) => mailingDto(m, counts.get(m.id)!)),
      next: found.more && last ? encodeCursor("mailings", last.createdKey, last.id) : null,
    };
  });

  mount(app, deps, "createMailing", async ({ body, user }) => {
    const { kind, dryRun, asOf, ...params } = body;
    if (body.kind === "custom" && !(await getTemplate(db, body.templateId))) {
      throw new HttpProblem(400, `no mail template with id ${body.templateId}`, [
        { field: "body.templateId", message: "is not a mail template" },
      ]);
    }
    await checkCompany(body.companyId);
    const mailing = await createOwnMailing({
      kind,
      params,
      asOf: asOf ?? today(),
      dryRun: dryRun ?? false,
      requestedBy: user!.id,
    });
    await plan(mailing);
    return { mailingId: mailing.id, status: mailing.status as MailingStatus, dryRun: mailing.dry_run };
  });

  mount(app, deps, "getMailing", async ({ params }) => {
    const mailing = await mailingOr404(params.id);
    return mailingDto(mailing, await countsOf(db, mailing.id));
  });

  mount(app, deps, "listMailingMessages", async ({ params, query }) => {
    await mailingOr404(params.id);
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = query.cursor
      ? (decodeCursor(query.cursor, "messages", ([id]) => Number.isSafeInteger(id))[0] as number)
      : undefined;
    const found = await listMessages(db, params.id, { state: query.state, limit, afterPartnerId: after });
    return {
      items: found.items.map(messageDto),
      next: found.next === null ? null : encodeCursor("messages", found.next),
    };
  });

  mount(app, deps, "cancelMailing", async ({ params }) => {
    const cancelled = await cancelMailing(db, params.id);
    const mailing = await mailingOr404(params.id);
    if (cancelled === null) {
      throw new HttpProblem(
        409,
        `mailing ${params.id} is ${mailing.status}: only a mailing still planning, planned or sending can be cancelled`,
      );
    }
    return mailingDto(mailing, await countsOf(db, mailing.id));
  });

  mount(app, deps, "resendMailMessage", async ({ params }) => {
    const message = await getMessage(db, params.messageId);
    if (!message || message.mailing_id !== params.id) {
      throw new HttpProblem(404, `no message with id ${params.messageId} in mailing ${params.id}`);
    }
    const requeued = await requeueForResend(db, message.id);
    if (!requeued) {
      const mailing = await getMailing(db, params.id);
      throw new HttpProblem(
        409,
        mailing?.status === "cancelled"
          ? `mailing ${params.id} is cancelled: its messages are not sent again`
          : `message ${message.id} is ${message.state}: only a failed or unknown message can be sent again`,
      );
    }
    // The job id the mailer's recovery also gives this row at these attempts: should this enqueue
    // be lost (Redis failing after the row was written), the recovery enqueues it, never twice.
    await mail.add(
      "send-message",
      { messageId: message.id },
      { jobId: sendJobId(message.id, requeued.attempts) },
    );
    return messageDto(requeued);
  });

  // ── templates ───────────────────────────────────────────────────────────────────────────────

  mount(app, deps, "listMailTemplates", async () => ({
    items: (await listTemplates(db)).map(templateDto),
  }));

  mount(app, deps, "getMailTemplate", async ({ params }) => templateDto(await templateOr404(params.id)));

  mount(app, deps, "createMailTemplate", async ({ body, user }) => {
    try {
      return templateDto(await createTemplate(db, body, user?.id ?? null));
    } catch (error) {
      if (error instanceof TemplateError) throw templateProblem(error);
      if (isUniqueViolation(error)) {
        throw new HttpProblem(409, `a template with key ${body.key} and language ${body.lang} exists`);
      }
      throw error;
    }
  });

  mount(app, deps, "updateMailTemplate", async ({ params, body, user }) => {
    try {
      const updated = await updateTemplate(db, params.id, body, user?.id ?? null);
      if (!updated) throw new HttpProblem(404, `no mail template with id ${params.id}`);
      return templateDto(updated);
    } catch (error) {
      if (error instanceof TemplateError) throw templateProblem(error);
      if (isUniqueViolation(error)) {
        throw new HttpProblem(409, "another template has this key and language");
      }
      throw error;
    }
  });

  const preview = async (
    source: PreviewSource,
    body: { partnerId: number; companyId?: number | undefined; asOf?: string | undefined },
  ) => {
    await checkPartner(body.partnerId);
    await checkCompany(body.companyId);
    try {
      const rendered = await previewTemplate(db, source, body.partnerId, {
        ...PREVIEW_PLAN,
        asOf: body.asOf ?? today(),
        companyId: body.companyId,
      });
      return { partnerId: body.partnerId, ...rendered };
    } catch (error) {
      if (error instanceof TemplateError) throw templateProblem(error);
      throw error;
    }
  };

  mount(app, deps, "previewMailTemplate", async ({ params, body }) => {
    await templateOr404(params.id);
    return preview(params.id, body);
  });

  mount(app, deps, "previewMailTemplateDraft", async ({ body }) =>
    preview({ kind: body.kind, subject: body.subject, html: body.html, text: body.text ?? null }, body),
  );

  mount(app, deps, "testSendMailTemplate", async ({ params, body, user }) => {
    const template = await templateOr404(params.id);
    await checkPartner(body.partnerId);
    await checkCompany(body.companyId);
    const to = user!.email;
    const mailing = await createOwnMailing({
      kind: "custom",
      params: {
        templateId: template.id,
        partnerIds: [body.partnerId],
        ...(body.companyId === undefined ? {} : { companyId: body.companyId }),
        testRecipient: to,
      },
      asOf: body.asOf ?? today(),
      requestedBy: user!.id,
    });
    await plan(mailing);
    return { mailingId: mailing.id, to };
  });

  // ── the suppression list ────────────────────────────────────────────────────────────────────

  mount(app, deps, "listSuppressions", async ({ query }) => {
    const after = query.cursor
      ? (decodeCursor(
          query.cursor,
          "suppressions",
          ([email]) => typeof email === "string" && email.length <= 254,
        )[0] as string)
      : undefined;
    const found = await listSuppressions(db, { limit: query.limit ?? DEFAULT_PAGE_SIZE, after });
    return {
      items: found.items.map(suppressionDto),
      next: found.next === null ? null : encodeCursor("suppressions", found.next),
    };
  });

  mount(app, deps, "createSuppression", async ({ body }) => {
    if (!(await suppress(db, body.email, "manual", body.detail ?? null))) {
      const existing = await getSuppression(db, body.email);
      throw new HttpProblem(
        409,
        `${body.email} is on the suppression list already (${existing?.reason ?? "suppressed"})`,
      );
    }
    return suppressionDto((await getSuppression(db, body.email))!);
  });

  mount(app, deps, "deleteSuppression", async ({ params }) => {
    if (!(await unsuppress(db, params.email))) {
      throw new HttpProblem(404, `${params.email} is not on the suppression list`);
    }
    return null;
  });

  // ── one-click unsubscribe (public) ──────────────────────────────────────────────────────────

  const claimOf = (token: string) => {
    const claim = verifyUnsubscribeToken(unsubscribeSecret, token);
    if (!claim) {
      throw new HttpProblem(
        400,
        "this unsubscribe link is not valid (altered, or not issued by this system): use the link in the email as it is",
        [{ field: "query.token", message: "is not a valid unsubscribe token" }],
      );
    }
    return claim;
  };
  /** The recipient's language, from the message the link came in: es or en, else null (both). */
  const langOf = async (claim: UnsubscribeClaim): Promise<PageLang | null> => {
    if (!UUID.test(claim.messageId)) return null;
    const lang = languageOf((await getMessage(db, claim.messageId))?.lang);
    return lang === "es" || lang === "en" ? lang : null;
  };
  /** A browser's error: a bad or missing link (4xx), or one to retry later. */
  const errorPage: ErrorPage = (_error, request, status) => {
    const reference = (t: Texts) => `${t.reference}: <code>${escapeHtml(String(request.id))}</code>`;
    return status >= 500 || status === 429
      ? page(
          null,
          (t) => t.failedTitle,
          (t) => [t.failed, reference(t)],
        )
      : page(
          null,
          (t) => t.invalidTitle,
          (t) => [t.invalid, reference(t)],
        );
  };

  // RFC 8058 senders POST form-encoded or multipart bodies (`List-Unsubscribe=One-Click`), and the
  // page's button a form: whatever the body, the signed token alone decides.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string", bodyLimit: 4_096 }, (_request, body, done) =>
      done(null, body),
    );

    mount(
      scope,
      deps,
      "unsubscribe",
      async ({ query, request }) => {
        const claim = claimOf(query.token);
        const lang = await langOf(claim);
        const added = await suppress(
          db,
          claim.email,
          "unsubscribed",
          "one-click unsubscribe link",
          UUID.test(claim.messageId) ? claim.messageId : null,
        );
        request.log.info({ messageId: claim.messageId, added }, "address unsubscribed");
        const email = escapeHtml(claim.email);
        return page(
          lang,
          (t) => t.doneTitle,
          (t) => [t.done(email)],
        );
      },
      { errorPage },
    );

    mount(
      scope,
      deps,
      "unsubscribePage",
      async ({ query }) => {
        const claim = claimOf(query.token);
        const email = escapeHtml(claim.email);
        const action = escapeHtml(encodeURIComponent(query.token));
        return page(
          await langOf(claim),
          (t) => t.confirmTitle,
          (t) => [t.confirm(email)],
          (button) => `<form method="post" action="?token=${action}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">${button}</button>
</form>`,
        );
      },
      { errorPage },
    );
  });
}
