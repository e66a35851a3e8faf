import type { Db } from "@finanzas/ledger";
import type { MessageRecord } from "./outbox.js";
import { type PlanOptions, planRecipients } from "./recipients.js";
import { type Rendered, renderTemplate } from "./render.js";
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

/**
 * A template rendered for one partner, as a mailing of the template's kind would send it today
 * (or as of `asOf`): the API's preview. Throws when the partner is not in the synced copy.
 */
export async function previewTemplate(
  db: Db,
  templateId: string,
  partnerId: number,
  options: PlanOptions & { asOf: string; companyId?: number | undefined },
): Promise<Rendered & { to: string | null; skipReason: string | null }> {
  const template = await getTemplate(db, templateId);
  if (!template) throw new Error(`no template with id ${templateId}`);
  const [recipient] = await planRecipients(
    db,
    {
      id: "00000000-0000-0000-0000-000000000000",
      kind: "custom",
      templateId,
      asOf: options.asOf,
      companyId: options.companyId,
      partnerIds: [partnerId],
    },
    options,
  );
  if (!recipient) throw new Error(`no partner with id ${partnerId}`);
  // a reminder template previews with the partner's own level, as its mailing would compute it
  const context = { ...recipient.context };
  if (template.kind === "reminder") {
    const [asReminder] = await planRecipients(
      db,
      {
        id: "00000000-0000-0000-0000-000000000000",
        kind: "reminder",
        asOf: options.asOf,
        partnerIds: [partnerId],
      },
      options,
    );
    if (asReminder) context.level = asReminder.context.level;
  }
  const rendered = await renderTemplate(
    template,
    {
      ...context,
      unsubscribe_url: template.kind === "statement" ? null : "https://example.invalid/unsubscribe",
    },
    recipient.lang,
  );
  return { ...rendered, to: recipient.email, skipReason: recipient.skipReason };
}
