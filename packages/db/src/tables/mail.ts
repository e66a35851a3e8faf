import type { ColumnType, Generated } from "kysely";

/** Mail, schema `mail` (written by the mailer; templates, cancels, resends and suppressions by web-api). */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string, string>;

export interface MailTemplatesTable {
  id: Generated<string>;
  /** Variants of one template share a key (statement, reminder-1, …), one row per language. */
  key: string;
  /** One of the contracts' MAILING_KINDS. */
  kind: string;
  /** Two- or three-letter language code: es, en. */
  lang: string;
  name: string;
  /** Liquid source of the subject, the HTML part and (optional) the plain-text part. */
  subject: string;
  html: string;
  /** null: derived from the HTML when rendered. */
  text: string | null;
  builtin: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface MailReminderLevelsTable {
  level: number;
  /** Days overdue (of the customer's oldest overdue item) from which this level applies. */
  days: number;
  template_key: string;
}

export interface MailMailingsTable {
  id: string;
  kind: string;
  params: Json<Record<string, unknown>>;
  /** One of the contracts' MAILING_STATUSES. */
  status: string;
  dry_run: ColumnType<boolean, boolean | undefined, boolean>;
  as_of: ColumnType<string, string, string>;
  requested_by: string | null;
  total: ColumnType<number, number | undefined, number>;
  preview: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  error: string | null;
  created_at: Timestamp;
  planned_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  cancelled_at: NullableTimestamp;
}

export interface MailMessagesTable {
  id: string;
  mailing_id: string;
  partner_id: number;
  partner_name: string | null;
  /** The address it goes to (the partner's, or its commercial partner's); null when skipped for having none. */
  email: string | null;
  lang: string | null;
  company_id: number | null;
  /** Reminder follow-up level. */
  level: number | null;
  template_id: string | null;
  /** Everything the template renders, taken when the mailing was planned. */
  context: Json<Record<string, unknown>>;
  /** One of the contracts' MESSAGE_STATES. */
  state: string;
  skip_reason: string | null;
  /** The Message-ID header, without angle brackets. */
  message_id: string;
  /** The statement report (reports.reports) attached. */
  report_id: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  claimed_at: NullableTimestamp;
  /** The mailer instance that claimed it (see the mailer's recovery). */
  claimed_by: string | null;
  sent_at: NullableTimestamp;
  smtp_response: string | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MailSuppressionsTable {
  /** Lower-cased address. */
  email: string;
  reason: string;
  detail: string | null;
  /** The outbox message whose bounce or unsubscribe added it. */
  message_id: string | null;
  created_at: Timestamp;
}

export interface MailTables {
  "mail.templates": MailTemplatesTable;
  "mail.reminder_levels": MailReminderLevelsTable;
  "mail.mailings": MailMailingsTable;
  "mail.messages": MailMessagesTable;
  "mail.suppressions": MailSuppressionsTable;
}
