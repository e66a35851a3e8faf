import { type Static, type TLiteral, type TUnion, Type } from "@sinclair/typebox";
import { Cursor, DateString, DateTimeString, Limit, OdooId, Page, Query, Uuid } from "./http-common.js";

/*
 * Mailings: what a client asks for (`{ kind, ... }`), the mailing and its outbox messages as the
 * API shows them, the templates and the suppression list, and the `mail` queue's payloads (ids
 * only: the outbox row in PostgreSQL is the message; Redis carries which row to send).
 */

const PartnerIds = (description: string) =>
  Type.Array(OdooId, { minItems: 1, maxItems: 10_000, uniqueItems: true, description });

const dryRun = Type.Optional(
  Type.Boolean({
    description:
      "Plan only: count the recipients (and who would be skipped, and why) and render a preview, send nothing",
  }),
);
const asOf = Type.Optional(
  Type.Union([DateString], { description: "Date of the open items and overdue days; default today (UTC)" }),
);

/** Mailing kinds: persisted identifiers, never renamed in place. */
export const MAILING_KINDS = ["statement", "reminder", "custom"] as const;
export type MailingKind = (typeof MAILING_KINDS)[number];

export const StatementMailing = Type.Object(
  {
    kind: Type.Literal("statement"),
    companyId: Type.Optional(OdooId),
    partnerIds: Type.Optional(
      PartnerIds("Only these partners (default: every customer with an open balance)"),
    ),
    asOf,
    dryRun,
  },
  { additionalProperties: false, title: "StatementMailing" },
);

export const ReminderMailing = Type.Object(
  {
    kind: Type.Literal("reminder"),
    companyId: Type.Optional(OdooId),
    partnerIds: Type.Optional(PartnerIds("Only these partners (default: every customer with overdue items)")),
    asOf,
    dryRun,
  },
  { additionalProperties: false, title: "ReminderMailing" },
);

export const CustomMailing = Type.Object(
  {
    kind: Type.Literal("custom"),
    templateId: Type.String({
      format: "uuid",
      description: "The template; each partner gets its variant in the partner's language when there is one",
    }),
    partnerIds: PartnerIds("The recipients"),
    companyId: Type.Optional(OdooId),
    asOf,
    dryRun,
  },
  { additionalProperties: false, title: "CustomMailing" },
);

/** `POST /api/v1/mailings`. */
export const MailingRequest = Type.Union([StatementMailing, ReminderMailing, CustomMailing], {
  title: "MailingRequest",
});
export type MailingRequest = Static<typeof MailingRequest>;
/** What a mailing row keeps of its request (everything but kind and dryRun). */
export type MailingParams = Omit<MailingRequest, "kind" | "dryRun"> & {
  templateId?: string;
  /** A test send: every message goes to this address instead of the partner's. */
  testRecipient?: string;
};

/**
 * Outbox states of a message. `queued` → `sending` (claimed by one mailer) → `sent`, `retry`
 * (a temporary failure; claimed again later), `failed` (permanent, or out of attempts) or `unknown`
 * (the mailer stopped while the message may have reached the server: never re-sent by itself, a
 * person decides). `skipped`: never sent, with the reason. `cancelled`: its mailing was cancelled
 * before it was sent.
 */
export const MESSAGE_STATES = [
  "queued",
  "sending",
  "sent",
  "retry",
  "failed",
  "skipped",
  "unknown",
  "cancelled",
] as const;
export type MessageState = (typeof MESSAGE_STATES)[number];
/** States a message leaves only by a person's action (resend of failed or unknown). */
export const FINAL_MESSAGE_STATES = ["sent", "failed", "skipped", "unknown", "cancelled"] as const;
/** States a message may be claimed for sending from. */
export const CLAIMABLE_STATES = ["queued", "retry"] as const;

/**
 * A mailing: `planning` (choosing recipients, writing the outbox) → `sending` → `done` (every
 * message in a final state); `planned` for a dry run; `cancelled`; `failed` (the planning failed).
 */
export const MAILING_STATUSES = ["planning", "planned", "sending", "done", "cancelled", "failed"] as const;
export type MailingStatus = (typeof MAILING_STATUSES)[number];

export const SUPPRESSION_REASONS = ["bounced", "unsubscribed", "manual"] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

/** One of `values`, typed as their union (a map over them would type it as any string). */
const literals = <const T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<TLiteral<T[number]>[]>;
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const MessageCounts = Type.Object(
  Object.fromEntries(MESSAGE_STATES.map((s) => [s, Type.Integer({ minimum: 0 })])) as Record<
    MessageState,
    ReturnType<typeof Type.Integer>
  >,
);

export const RenderedMessage = Type.Object(
  {
    partnerId: OdooId,
    to: Type.Union([Type.String(), Type.Null()]),
    subject: Type.String(),
    html: Type.String(),
    text: Type.String(),
  },
  { title: "RenderedMessage" },
);

export const Mailing = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    kind: literals(MAILING_KINDS),
    params: Type.Record(Type.String(), Type.Unknown()),
    status: literals(MAILING_STATUSES),
    dryRun: Type.Boolean(),
    asOf: DateString,
    requestedBy: Type.Union([Type.String({ format: "uuid" }), Type.Null()]),
    total: Type.Integer({ minimum: 0, description: "Messages in the outbox (skipped ones included)" }),
    counts: MessageCounts,
    /** 0–100: messages in a final state over all. */
    progress: Type.Integer({ minimum: 0, maximum: 100 }),
    preview: Type.Union([RenderedMessage, Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()], {
      description:
        "Why the planning failed; while the mailing is `planning`, why it waits (the first sync of a model it reads not finished yet)",
    }),
    createdAt: DateTimeString,
    plannedAt: Type.Union([DateTimeString, Type.Null()]),
    finishedAt: Type.Union([DateTimeString, Type.Null()]),
    cancelledAt: Type.Union([DateTimeString, Type.Null()]),
  },
  { title: "Mailing" },
);

export const MailMessage = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    mailingId: Type.String({ format: "uuid" }),
    partnerId: OdooId,
    partnerName: Nullable(Type.String()),
    email: Nullable(Type.String()),
    state: literals(MESSAGE_STATES),
    level: Type.Union([Type.Integer(), Type.Null()], { description: "Reminder level" }),
    messageId: Type.String({ description: "The Message-ID header" }),
    attempts: Type.Integer({ minimum: 0 }),
    skipReason: Nullable(Type.String()),
    lastError: Nullable(Type.String()),
    smtpResponse: Nullable(Type.String()),
    sentAt: Type.Union([DateTimeString, Type.Null()]),
    updatedAt: DateTimeString,
  },
  { title: "MailMessage" },
);

export const MailTemplate = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    key: Type.String({ description: "Variants of one template share a key, one per language" }),
    kind: literals(MAILING_KINDS),
    lang: Type.String({ description: "Language of this variant: es, en, …" }),
    name: Type.String(),
    subject: Type.String(),
    html: Type.String(),
    text: Nullable(Type.String()),
    builtin: Type.Boolean({ description: "Shipped with the mailer (still editable)" }),
    updatedAt: DateTimeString,
  },
  { title: "MailTemplate" },
);

export const Suppression = Type.Object(
  {
    email: Type.String(),
    reason: literals(SUPPRESSION_REASONS),
    detail: Nullable(Type.String()),
    createdAt: DateTimeString,
  },
  { title: "Suppression" },
);

// ── the HTTP API's requests and answers ──────────────────────────────────────────────────────

/** `POST /api/v1/mailings` (and a template's test send): the mailing is planned by the mailer. */
export const MailingAccepted = Type.Object(
  {
    mailingId: Type.String({
      format: "uuid",
      description: "GET /api/v1/mailings/{mailingId} shows its recipients, counts and progress",
    }),
    status: literals(MAILING_STATUSES),
    dryRun: Type.Boolean(),
  },
  { title: "MailingAccepted" },
);

export const MailingQuery = Query({
  kind: Type.Optional(literals(MAILING_KINDS)),
  status: Type.Optional(literals(MAILING_STATUSES)),
  limit: Type.Optional(Limit),
  cursor: Type.Optional(Cursor),
});
export const MailingPage = Page(Mailing, "MailingPage");

export const MailMessageQuery = Query({
  state: Type.Optional(literals(MESSAGE_STATES)),
  limit: Type.Optional(Limit),
  cursor: Type.Optional(Cursor),
});
export const MailMessagePage = Page(MailMessage, "MailMessagePage");

export const MailMessageParams = Type.Object(
  { id: Type.String({ format: "uuid" }), messageId: Type.String({ format: "uuid" }) },
  { additionalProperties: false },
);

export const MailTemplateList = Type.Object(
  { items: Type.Array(MailTemplate) },
  { title: "MailTemplateList" },
);

const templateFields = {
  key: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: "^[a-z0-9][a-z0-9_-]*$",
    description:
      "Variants of one template share a key (lower-case letters, digits, - and _), one per language",
  }),
  lang: Type.String({ pattern: "^[a-z]{2,3}$", description: "Language of this variant: es, en, …" }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  subject: Type.String({ minLength: 1, maxLength: 2_000, description: "Liquid source of the subject" }),
  html: Type.String({ minLength: 1, maxLength: 200_000, description: "Liquid source of the HTML part" }),
  text: Type.Optional(
    Type.Union([Type.String({ minLength: 1, maxLength: 200_000 }), Type.Null()], {
      description: "Liquid source of the plain-text part; null or absent: derived from the rendered HTML",
    }),
  ),
};

export const MailTemplateCreate = Type.Object(
  { ...templateFields, kind: literals(MAILING_KINDS) },
  { additionalProperties: false, title: "MailTemplateCreate" },
);
export const MailTemplateUpdate = Type.Object(
  {
    key: Type.Optional(templateFields.key),
    lang: Type.Optional(templateFields.lang),
    name: Type.Optional(templateFields.name),
    subject: Type.Optional(templateFields.subject),
    html: Type.Optional(templateFields.html),
    text: templateFields.text,
  },
  { additionalProperties: false, minProperties: 1, title: "MailTemplateUpdate" },
);

const previewFields = {
  partnerId: Type.Integer({
    minimum: 1,
    maximum: 2_147_483_647,
    description: "The partner it is rendered for",
  }),
  companyId: Type.Optional(OdooId),
  asOf,
};

/** A stored template's preview or test send: for which partner, as of which date. */
export const MailTemplatePreviewBody = Type.Object(previewFields, {
  additionalProperties: false,
  title: "MailTemplatePreviewBody",
});
/** A template not stored (yet): its source in the body, rendered for a partner. */
export const MailTemplateDraftPreviewBody = Type.Object(
  {
    kind: literals(MAILING_KINDS),
    subject: templateFields.subject,
    html: templateFields.html,
    text: templateFields.text,
    ...previewFields,
  },
  { additionalProperties: false, title: "MailTemplateDraftPreviewBody" },
);

export const MailTemplatePreview = Type.Object(
  {
    partnerId: OdooId,
    to: Nullable(Type.String()),
    subject: Type.String(),
    html: Type.String(),
    text: Type.String(),
    skipReason: Nullable(Type.String({ description: "Why a mailing would not send it to this partner now" })),
  },
  { title: "MailTemplatePreview" },
);

export const MailTestSendAccepted = Type.Object(
  {
    mailingId: Type.String({ format: "uuid" }),
    to: Type.String({ description: "The caller's own address, where the one message goes" }),
  },
  { title: "MailTestSendAccepted" },
);

export const SuppressionQuery = Query({ limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) });
export const SuppressionPage = Page(Suppression, "SuppressionPage");
export const SuppressionCreate = Type.Object(
  {
    email: Type.String({ format: "email", minLength: 3, maxLength: 254 }),
    detail: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: "Why, for the record" })),
  },
  { additionalProperties: false, title: "SuppressionCreate" },
);
export const SuppressionParams = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 254, pattern: "^[^\\s@]+@[^\\s@]+$" }) },
  { additionalProperties: false },
);

/** The one-click unsubscribe link's query: the signed token the mailer put in List-Unsubscribe. */
export const UnsubscribeQuery = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 2_000, pattern: "^[A-Za-z0-9_.-]+$" }) },
  { additionalProperties: false },
);
export const UnsubscribePage = Type.String({
  description: "A short HTML page for the person who clicked, in the recipient's language when known",
});
export const UnsubscribeErrorPage = Type.String({
  description:
    "A short HTML page saying what went wrong (an altered or incomplete link, or a failure to retry later), in Spanish and English, to a client that prefers text/html to JSON (a browser); any other client gets application/problem+json",
});

// ── the mail queue ────────────────────────────────────────────────────────────────────────────

export const PlanMailingPayload = Type.Object({ mailingId: Uuid }, { additionalProperties: false });
export const PlanMailingResult = Type.Object({
  mailingId: Type.String(),
  queued: Type.Integer(),
  skipped: Type.Integer(),
});

export const SendMessagePayload = Type.Object({ messageId: Uuid }, { additionalProperties: false });
export const SendMessageResult = Type.Object({
  messageId: Type.String(),
  /** The outbox state the run left the message in (or found it in, when it was not claimable). */
  state: literals(MESSAGE_STATES),
});

/** Most messages one send-batch job carries. */
export const MAX_SEND_BATCH = 1_000;

export const SendBatchPayload = Type.Object(
  {
    messageIds: Type.Array(Uuid, { minItems: 1, maxItems: MAX_SEND_BATCH, uniqueItems: true }),
  },
  { additionalProperties: false },
);
export const SendBatchResult = Type.Object({
  messages: Type.Integer({ minimum: 0 }),
  /** How many of them the run left in (or found in, when not claimable) each outbox state. */
  states: MessageCounts,
});

export const RunRemindersPayload = Type.Object(
  { requestedBy: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
export const RunRemindersResult = Type.Object({ mailingId: Type.String() });
