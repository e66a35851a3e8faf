import { type Kysely, sql } from "kysely";

// Mail, schema `mail`: the templates people edit, the follow-up levels of payment reminders, the
// mailings, their outbox (one row per recipient, written before anything is sent: the row, not the
// queue, says whether a message went out) and the suppressed addresses.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists mail`.execute(db);

  await db.schema
    .withSchema("mail")
    .createTable("templates")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('statement', 'reminder', 'custom')`))
    .addColumn("lang", "text", (c) => c.notNull().check(sql`lang ~ '^[a-z]{2,3}$'`))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("html", "text", (c) => c.notNull())
    .addColumn("text", "text")
    .addColumn("builtin", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_by", "uuid", (c) => c.references("app.users.id").onDelete("set null"))
    .addUniqueConstraint("templates_key_lang_key", ["key", "lang"])
    .execute();

  await db.schema
    .withSchema("mail")
    .createTable("reminder_levels")
    .addColumn("level", "integer", (c) => c.primaryKey().check(sql`level > 0`))
    .addColumn("days", "integer", (c) => c.notNull().unique().check(sql`days > 0`))
    .addColumn("template_key", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .withSchema("mail")
    .createTable("mailings")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('statement', 'reminder', 'custom')`))
    .addColumn("params", "jsonb", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c.notNull().check(sql`status in ('planning', 'planned', 'sending', 'done', 'cancelled', 'failed')`),
    )
    .addColumn("dry_run", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("as_of", "date", (c) => c.notNull())
    .addColumn("requested_by", "uuid", (c) => c.references("app.users.id").onDelete("set null"))
    .addColumn("total", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("preview", "jsonb")
    .addColumn("error", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("planned_at", "timestamptz")
    .addColumn("finished_at", "timestamptz")
    .addColumn("cancelled_at", "timestamptz")
    .execute();
  await sql`create index mailings_created_idx on mail.mailings (created_at desc, id desc)`.execute(db);

  await db.schema
    .withSchema("mail")
    .createTable("messages")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("mailing_id", "uuid", (c) => c.notNull().references("mail.mailings.id").onDelete("cascade"))
    .addColumn("partner_id", "integer", (c) => c.notNull())
    .addColumn("partner_name", "text")
    .addColumn("email", "text")
    .addColumn("lang", "text")
    .addColumn("company_id", "integer")
    .addColumn("level", "integer")
    .addColumn("template_id", "uuid", (c) => c.references("mail.templates.id").onDelete("set null"))
    .addColumn("context", "jsonb", (c) => c.notNull())
    .addColumn("state", "text", (c) =>
      c
        .notNull()
        .check(
          sql`state in ('queued', 'sending', 'sent', 'retry', 'failed', 'skipped', 'unknown', 'cancelled')`,
        ),
    )
    .addColumn("skip_reason", "text")
    .addColumn("message_id", "text", (c) => c.notNull().unique())
    .addColumn("report_id", "uuid")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("claimed_at", "timestamptz")
    .addColumn("claimed_by", "text")
    .addColumn("sent_at", "timestamptz")
    .addColumn("smtp_response", "text")
    .addColumn("last_error", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("messages_mailing_partner_key", ["mailing_id", "partner_id"])
    .execute();
  await sql`create index messages_mailing_state_idx on mail.messages (mailing_id, state)`.execute(db);
  await sql`create index messages_sending_idx on mail.messages (claimed_by) where state = 'sending'`.execute(
    db,
  );
  await sql`create index messages_level_idx on mail.messages (partner_id, level, created_at) where level is not null`.execute(
    db,
  );

  await db.schema
    .withSchema("mail")
    .createTable("suppressions")
    .addColumn("email", "text", (c) => c.primaryKey().check(sql`email = lower(email)`))
    .addColumn("reason", "text", (c) =>
      c.notNull().check(sql`reason in ('bounced', 'unsubscribed', 'manual')`),
    )
    .addColumn("detail", "text")
    .addColumn("message_id", "uuid")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop schema if exists mail cascade`.execute(db);
}
