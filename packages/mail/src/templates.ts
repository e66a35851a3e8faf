import type { MailingKind } from "@finanzas/contracts";
import { type Database, type Selectable, sql } from "@finanzas/db";
import type { Db } from "@finanzas/ledger";
import { checkTemplate } from "./render.js";

/** Templates as people edit them (through the API) and the mailer reads them. */

export type TemplateRecord = Selectable<Database["mail.templates"]>;

export const listTemplates = (db: Db) =>
  db.selectFrom("mail.templates").selectAll().orderBy("kind").orderBy("key").orderBy("lang").execute();

export const getTemplate = (db: Db, id: string) =>
  db.selectFrom("mail.templates").selectAll().where("id", "=", id).executeTakeFirst();

/** The templates of `ids` that exist, by id: one query for a batch of messages. */
export async function templatesById(db: Db, ids: readonly string[]): Promise<Map<string, TemplateRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("mail.templates")
    .selectAll()
    .where("id", "in", [...new Set(ids)])
    .execute();
  return new Map(rows.map((t) => [t.id, t]));
}

export interface TemplateInput {
  key: string;
  kind: MailingKind;
  lang: string;
  name: string;
  subject: string;
  html: string;
  text?: string | null | undefined;
}

/** Creates a template after checking it parses (a TemplateError otherwise). */
export async function createTemplate(
  db: Db,
  t: TemplateInput,
  userId: string | null,
): Promise<TemplateRecord> {
  checkTemplate({ subject: t.subject, html: t.html, text: t.text ?? null });
  return db
    .insertInto("mail.templates")
    .values({ ...t, text: t.text ?? null, builtin: false, updated_by: userId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Updates the given fields after checking the result parses; undefined when there is no such template. */
export async function updateTemplate(
  db: Db,
  id: string,
  patch: Partial<Omit<TemplateInput, "kind">>,
  userId: string | null,
): Promise<TemplateRecord | undefined> {
  const current = await getTemplate(db, id);
  if (!current) return undefined;
  const next = { ...current, ...patch };
  checkTemplate({ subject: next.subject, html: next.html, text: next.text ?? null });
  return db
    .updateTable("mail.templates")
    .set({ ...patch, updated_at: sql`now()`, updated_by: userId })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
}
