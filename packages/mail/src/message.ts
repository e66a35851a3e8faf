import type { MailingKind } from "@finanzas/contracts";
import type { Db } from "@finanzas/ledger";
import type { MessageRecord } from "./outbox.js";
import { type PlanOptions, planRecipients } from "./recipients.js";
import { type Rendered, renderTemplate, type TemplateSource } from "./render.js";
import { getTemplate, type TemplateRecord } from "./templates.js";

/** What a message says: its template rendered with the context taken when it was planned. */
export async function renderMessage(
  db: Db,
  message: Pick<MessageRecord, "template_id" | "context" | "lang">,
  extra: Record<string, unknown> = {},
  template?: TemplateRecord,
): Promise<Rendered> {
  const source = template ?? (message.template_id ? await getTemplate(db, message.template_id) : undefined);
  if (!source) throw new Error("the message's template was deleted");
  return renderTemplate(source, { ...message.context, ...extra }, message.lang);
}

/** A template to preview: a stored one's id, or a source not stored (yet), with its kind. */
export type PreviewSource = string | (TemplateSource & { kind: MailingKind });

const NO_MAILING = "00000000-0000-0000-0000-000000000000";

/**
 * A template rendered for one partner, as a mailing of the template's kind would send it today
 * (or as of `asOf`): the API's preview, of a stored template or of a source given as it is.
 * Throws when there is no such stored template.
 */
export async function previewTemplate(
  db: Db,
  template: PreviewSource,
  partnerId: number,
  options: PlanOptions & { asOf: string; companyId?: number | undefined },
): Promise<Rendered & { to: string | null; skipReason: string | null }> {
  const stored = typeof template === "string";
  const source = stored ? await getTemplate(db, template) : template;
  if (!source) throw new Error(`no template with id ${template}`);
  // the partner's context as a custom mailing of the stored template takes it; a source not stored
  // has no id to plan with, so a statement's, which takes the same context
  const [recipient] = await planRecipients(
    db,
    {
      id: NO_MAILING,
      kind: stored ? "custom" : "statement",
      templateId: stored ? template : undefined,
      asOf: options.asOf,
      companyId: options.companyId,
      partnerIds: [partnerId],
    },
    options,
  );
  if (!recipient) throw new Error(`no partner with id ${partnerId}`);
  // a reminder template previews with the partner's own level, as its mailing would compute it,
  // and says why a reminder mailing would skip the partner (nothing overdue, covered by credits,
  // the level sent lately…)
  const context = { ...recipient.context };
  let reminderSkip: string | null = null;
  if (source.kind === "reminder") {
    const [asReminder] = await planRecipients(
      db,
      { id: NO_MAILING, kind: "reminder", asOf: options.asOf, partnerIds: [partnerId] },
      options,
    );
    if (asReminder) {
      context.level = asReminder.context.level;
      reminderSkip = asReminder.skipReason;
    }
  }
  const rendered = await renderTemplate(
    { subject: source.subject, html: source.html, text: source.text ?? null },
    {
      ...context,
      unsubscribe_url: source.kind === "statement" ? null : "https://example.invalid/unsubscribe",
    },
    recipient.lang,
  );
  // the statement planning's own template does not matter to a source given as it is
  const skipReason =
    reminderSkip ??
    (!stored && recipient.skipReason === `no template with key ${JSON.stringify("statement")}`
      ? null
      : recipient.skipReason);
  return { ...rendered, to: recipient.email, skipReason };
}
