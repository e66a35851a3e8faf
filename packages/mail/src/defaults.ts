import { sql } from "@finanzas/db";
import type { Db } from "@finanzas/ledger";

/*
 * The templates and follow-up levels shipped with the mailer, in Spanish and English, written to
 * schema `mail` at the mailer's start when they are missing (never over a person's edits).
 *
 * Variables every template may read: partner (name, ref, vat, email, lang), company (name,
 * currency), as_of and today (dates), items (the open items: document, reference, date, due_date,
 * days_overdue, open_amount, original_amount, currency), overdue_items (those past due, credit
 * notes and unmatched payments included, as the aging counts them), totals (per company and
 * currency: open, overdue = the sum of its overdue_items, currency, company), level (reminders:
 * level, days),
 * unsubscribe_url (reminders and custom mailings). Filters: `money: currency` and `day` (`"long"`),
 * both in the partner's language.
 */

export interface DefaultTemplate {
  key: string;
  kind: "statement" | "reminder" | "custom";
  lang: string;
  name: string;
  subject: string;
  html: string;
  text: string | null;
}

/** Follow-up levels as Odoo's follow-ups configure them: from N days overdue, this template. */
export const DEFAULT_REMINDER_LEVELS = [
  { level: 1, days: 1, template_key: "reminder-1" },
  { level: 2, days: 15, template_key: "reminder-2" },
  { level: 3, days: 30, template_key: "reminder-3" },
  { level: 4, days: 60, template_key: "reminder-4" },
] as const;

const T = {
  es: {
    hello: "Estimado/a cliente {{ partner.name }}:",
    document: "Documento",
    date: "Fecha",
    due: "Vencimiento",
    days: "Días vencido",
    open: "Pendiente",
    totals: "Total pendiente",
    overdue: "Vencido",
    regards: "Atentamente,",
    dept: "Departamento de Administración",
    unsubscribe: "Si no desea recibir estos avisos, puede darse de baja",
    here: "aquí",
  },
  en: {
    hello: "Dear {{ partner.name }},",
    document: "Document",
    date: "Date",
    due: "Due date",
    days: "Days overdue",
    open: "Open",
    totals: "Total open",
    overdue: "Overdue",
    regards: "Kind regards,",
    dept: "Accounts Receivable",
    unsubscribe: "If you do not want to receive these notices, you can unsubscribe",
    here: "here",
  },
} as const;

const STYLE =
  "font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;max-width:720px;line-height:1.45";
const CELL = "padding:4px 8px;border-bottom:1px solid #ddd";

function table(lang: "es" | "en", list: "items" | "overdue_items"): string {
  const t = T[lang];
  return `<table style="border-collapse:collapse;width:100%;margin:12px 0">
<tr><th style="${CELL};text-align:left">${t.document}</th><th style="${CELL};text-align:left">${t.date}</th><th style="${CELL};text-align:left">${t.due}</th><th style="${CELL};text-align:right">${t.days}</th><th style="${CELL};text-align:right">${t.open}</th></tr>
{% for item in ${list} %}<tr><td style="${CELL}">{{ item.document }}{% if item.reference %} ({{ item.reference }}){% endif %}</td><td style="${CELL}">{{ item.date | day }}</td><td style="${CELL}">{{ item.due_date | day }}</td><td style="${CELL};text-align:right">{% if item.days_overdue > 0 %}{{ item.days_overdue }}{% endif %}</td><td style="${CELL};text-align:right">{{ item.open_amount | money: item.currency }}</td></tr>
{% endfor %}</table>
{% for total in totals %}<p><strong>${t.totals}{% if totals.size > 1 %} ({{ total.company }}){% endif %}: {{ total.open | money: total.currency }}</strong>{% if total.overdue != "0" %} &middot; ${t.overdue}: {{ total.overdue | money: total.currency }}{% endif %}</p>
{% endfor %}`;
}

function page(lang: "es" | "en", body: string, unsubscribe: boolean): string {
  const t = T[lang];
  return `<div style="${STYLE}">
<p>${t.hello}</p>
${body}
<p>${t.regards}<br>{{ company.name }}<br>${t.dept}</p>
${unsubscribe ? `{% if unsubscribe_url %}<p style="font-size:12px;color:#777">${t.unsubscribe} <a href="{{ unsubscribe_url }}">${t.here}</a>.</p>{% endif %}` : ""}
</div>`;
}

const statement = (lang: "es" | "en"): DefaultTemplate => ({
  key: "statement",
  kind: "statement",
  lang,
  name: lang === "es" ? "Estado de cuenta" : "Statement of account",
  subject:
    lang === "es"
      ? "Estado de cuenta de {{ partner.name }} a {{ as_of | day }}"
      : "Statement of account for {{ partner.name }} as of {{ as_of | day }}",
  html: page(
    lang,
    lang === "es"
      ? `<p>Le enviamos su estado de cuenta con {{ company.name }} a {{ as_of | day: "long" }}. Las partidas pendientes son:</p>
${table(lang, "items")}
<p>Encontrará el detalle de los movimientos en el libro adjunto. Si algún importe no coincide con sus registros, responda a este correo.</p>`
      : `<p>Please find your statement of account with {{ company.name }} as of {{ as_of | day: "long" }}. The open items are:</p>
${table(lang, "items")}
<p>The attached workbook lists every movement. If an amount does not match your records, please reply to this email.</p>`,
    false,
  ),
  text: null,
});

const REMINDER_TEXT = {
  es: [
    {
      subject: "Recordatorio de pago: facturas vencidas de {{ partner.name }}",
      intro:
        "Según nuestros registros, las siguientes facturas han vencido y siguen pendientes de pago. Es posible que se trate de un descuido: le agradeceríamos que revisara su situación.",
    },
    {
      subject: "Segundo aviso: facturas vencidas de {{ partner.name }}",
      intro:
        "Le escribimos de nuevo porque las siguientes facturas siguen pendientes de pago más de dos semanas después de su vencimiento. Le rogamos que proceda a su pago a la mayor brevedad.",
    },
    {
      subject: "Aviso urgente: facturas vencidas de {{ partner.name }}",
      intro:
        "Pese a nuestros avisos anteriores, las siguientes facturas llevan más de 30 días vencidas. Le pedimos que realice el pago en los próximos días o que se ponga en contacto con nosotros.",
    },
    {
      subject: "Último aviso antes de acciones de cobro: {{ partner.name }}",
      intro:
        "Las siguientes facturas llevan más de 60 días vencidas. Si no recibimos el pago o noticias suyas en un plazo de 7 días, nos veremos obligados a iniciar las acciones de cobro oportunas.",
    },
  ],
  en: [
    {
      subject: "Payment reminder: overdue invoices for {{ partner.name }}",
      intro:
        "According to our records, the following invoices are past due and still unpaid. This may be an oversight: we would be grateful if you could check your account.",
    },
    {
      subject: "Second notice: overdue invoices for {{ partner.name }}",
      intro:
        "We are writing again because the following invoices are still unpaid more than two weeks after their due date. Please arrange payment as soon as possible.",
    },
    {
      subject: "Urgent: overdue invoices for {{ partner.name }}",
      intro:
        "Despite our previous notices, the following invoices are more than 30 days overdue. Please pay them within the next few days or contact us.",
    },
    {
      subject: "Final notice before collection: {{ partner.name }}",
      intro:
        "The following invoices are more than 60 days overdue. Unless we receive payment or hear from you within 7 days, we will have to start collection proceedings.",
    },
  ],
} as const;

const reminder = (lang: "es" | "en", level: number): DefaultTemplate => {
  const r = REMINDER_TEXT[lang][level - 1]!;
  return {
    key: `reminder-${level}`,
    kind: "reminder",
    lang,
    name: lang === "es" ? `Recordatorio nivel ${level}` : `Reminder level ${level}`,
    subject: r.subject,
    html: page(
      lang,
      `<p>${r.intro}</p>
${table(lang, "overdue_items")}
<p>${
        lang === "es"
          ? "Adjuntamos su estado de cuenta. Si ya ha realizado el pago, le rogamos que ignore este aviso."
          : "Your statement of account is attached. If you have already paid, please disregard this notice."
      }</p>`,
      true,
    ),
    text: null,
  };
};

export const DEFAULT_TEMPLATES: readonly DefaultTemplate[] = (["es", "en"] as const).flatMap((lang) => [
  statement(lang),
  ...DEFAULT_REMINDER_LEVELS.map((l) => reminder(lang, l.level)),
]);

/**
 * Writes the shipped templates that are missing (by key and language) and, when no level is
 * configured, the default follow-up levels. Safe from several replicas at once; never overwrites
 * a row a person may have edited.
 */
export async function seedDefaults(db: Db): Promise<{ templates: number; levels: number }> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('mail.seed_defaults'))`.execute(trx);
    const templates = await trx
      .insertInto("mail.templates")
      .values(DEFAULT_TEMPLATES.map((t) => ({ ...t, builtin: true })))
      .onConflict((oc) => oc.columns(["key", "lang"]).doNothing())
      .returning("id")
      .execute();
    const existing = await trx.selectFrom("mail.reminder_levels").select("level").limit(1).execute();
    let levels = 0;
    if (existing.length === 0) {
      levels = (
        await trx
          .insertInto("mail.reminder_levels")
          .values(DEFAULT_REMINDER_LEVELS.map((l) => ({ ...l })))
          .returning("level")
          .execute()
      ).length;
    }
    return { templates: templates.length, levels };
  });
}
