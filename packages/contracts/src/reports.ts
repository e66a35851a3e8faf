import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { DateString, DateTimeString, OdooId, Uuid } from "./http-common.js";
import { INVOICE_FILTERS } from "./http-finance.js";

/*
 * Excel reports: what a client asks for (`{ kind, params }`), the report record it follows, and the
 * `reports` queue's payloads. Parameters are camelCase like the API's queries; a report over no
 * `companyId` covers every company, one sheet each, amounts in each company's currency.
 */

const Ids = (description: string) =>
  Type.Array(OdooId, { minItems: 1, maxItems: 500, uniqueItems: true, description });

export const AgedBalanceParams = Type.Object(
  {
    type: Type.Union([Type.Literal("receivable"), Type.Literal("payable")]),
    asOf: Type.Optional(Type.Union([DateString], { description: "Default today (UTC)" })),
    companyId: Type.Optional(OdooId),
    partnerIds: Type.Optional(Ids("Only these partners")),
  },
  { additionalProperties: false },
);

export const GeneralLedgerParams = Type.Object(
  {
    dateFrom: DateString,
    dateTo: DateString,
    companyId: Type.Optional(OdooId),
    accountIds: Type.Optional(Ids("Only these accounts")),
    partnerId: Type.Optional(OdooId),
    journalIds: Type.Optional(Ids("Only the items of these journals")),
    includeDraft: Type.Optional(Type.Boolean({ description: "Draft entries too (default: posted only)" })),
  },
  { additionalProperties: false },
);

export const TrialBalanceParams = Type.Object(
  { dateFrom: DateString, dateTo: DateString, companyId: Type.Optional(OdooId) },
  { additionalProperties: false },
);

export const InvoiceRegisterParams = Type.Object(INVOICE_FILTERS, { additionalProperties: false });

export const PartnerStatementParams = Type.Object(
  {
    partnerId: OdooId,
    companyId: Type.Optional(OdooId),
    dateFrom: Type.Optional(
      Type.Union([DateString], { description: "First day of the movements; default: all" }),
    ),
    dateTo: Type.Optional(
      Type.Union([DateString], { description: "Last day of the movements; default asOf" }),
    ),
    asOf: Type.Optional(
      Type.Union([DateString], { description: "Date of the open items and aging; default today" }),
    ),
  },
  { additionalProperties: false },
);

/** Each report kind and its parameters: a persisted identifier, never renamed in place. */
export const REPORT_PARAMS = {
  "aged-balance": AgedBalanceParams,
  "general-ledger": GeneralLedgerParams,
  "trial-balance": TrialBalanceParams,
  "invoice-register": InvoiceRegisterParams,
  "partner-statement": PartnerStatementParams,
} as const;
export type ReportKind = keyof typeof REPORT_PARAMS;
export const REPORT_KINDS = Object.keys(REPORT_PARAMS) as ReportKind[];
export type ReportParamsOf<K extends ReportKind> = Static<(typeof REPORT_PARAMS)[K]>;

const requestOf = <K extends ReportKind>(kind: K) =>
  Type.Object(
    { kind: Type.Literal(kind), params: REPORT_PARAMS[kind] as TSchema },
    { additionalProperties: false },
  );

/** `POST /api/v1/reports`: which report, with its parameters. */
export const ReportRequest = Type.Union(
  REPORT_KINDS.map((kind) => requestOf(kind)),
  { title: "ReportRequest" },
);
/** A request, typed per kind. */
export type ReportRequest = { [K in ReportKind]: { kind: K; params: ReportParamsOf<K> } }[ReportKind];

export const REPORT_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

export const Report = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    kind: Type.Union(REPORT_KINDS.map((k) => Type.Literal(k))),
    params: Type.Record(Type.String(), Type.Unknown()),
    status: Type.Union(REPORT_STATUSES.map((s) => Type.Literal(s))),
    /** 0–100 while running; rows written so far in `rows`. */
    progress: Type.Integer({ minimum: 0, maximum: 100 }),
    rows: Type.Integer({ minimum: 0, description: "Rows written (data rows of every sheet)" }),
    bytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: "Size of the file" }),
    fileName: Type.String({ description: "The name the download is offered under" }),
    requestedBy: Type.Union([Type.String({ format: "uuid" }), Type.Null()]),
    createdAt: DateTimeString,
    startedAt: Type.Union([DateTimeString, Type.Null()]),
    finishedAt: Type.Union([DateTimeString, Type.Null()]),
    expiresAt: Type.Union([DateTimeString, Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()], {
      description:
        "Why the report failed; while it is `queued`, why it waits: the first sync of a model it reads not finished yet, or the failure its next attempt follows",
    }),
    checksum: Type.Union([Type.String(), Type.Null()], { description: "sha-256 of the file, hex" }),
    downloadUrl: Type.Union([Type.String(), Type.Null()], {
      description:
        "Where to download the file once succeeded (this API, or a presigned URL of the object store)",
    }),
  },
  { title: "Report" },
);

// ── the reports queue ─────────────────────────────────────────────────────────────────────────

export const BuildReportPayload = Type.Object({ reportId: Uuid }, { additionalProperties: false });
export const BuildReportResult = Type.Object({
  reportId: Type.String(),
  status: Type.Union(REPORT_STATUSES.map((s) => Type.Literal(s))),
  rows: Type.Integer(),
  bytes: Type.Union([Type.Integer(), Type.Null()]),
  storageKey: Type.Union([Type.String(), Type.Null()]),
});

export const CleanupReportsPayload = Type.Object(
  { requestedBy: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
export const CleanupReportsResult = Type.Object({
  /** Report records deleted. */
  deleted: Type.Integer(),
  /** Report files deleted from the store (this run's and any an earlier store outage left queued). */
  files: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Refresh tokens, mailings and outbox rows past their retention deleted by the same job. */
  refreshTokens: Type.Optional(Type.Integer({ minimum: 0 })),
  mailings: Type.Optional(Type.Integer({ minimum: 0 })),
  messages: Type.Optional(Type.Integer({ minimum: 0 })),
});

// ── HTTP ──────────────────────────────────────────────────────────────────────────────────────

/**
 * `POST /api/v1/reports`: `{ kind, params }`. The server checks `params` against the kind's own
 * schema (REPORT_PARAMS) and names each bad field (`body.params.dateFrom`); clients get the
 * per-kind type.
 */
export const ReportCreate = Type.Unsafe<ReportRequest>(
  Type.Object(
    {
      kind: Type.Union(
        REPORT_KINDS.map((k) => Type.Literal(k)),
        { description: "aged-balance, general-ledger, trial-balance, invoice-register or partner-statement" },
      ),
      params: Type.Object(
        {},
        {
          additionalProperties: true,
          description:
            "The kind's parameters (camelCase): aged-balance { type, asOf?, companyId?, partnerIds? }; general-ledger { dateFrom, dateTo, companyId?, accountIds?, partnerId?, journalIds?, includeDraft? }; trial-balance { dateFrom, dateTo, companyId? }; invoice-register: the invoice list's filters; partner-statement { partnerId, companyId?, dateFrom?, dateTo?, asOf? }",
        },
      ),
    },
    { additionalProperties: false, title: "ReportRequest" },
  ),
);

export const ReportAccepted = Type.Object({
  reportId: Type.String({ format: "uuid" }),
  status: Type.Union(REPORT_STATUSES.map((s) => Type.Literal(s))),
  reused: Type.Boolean({
    description:
      "true: an identical report built from the same synced data was found (already done, or under way)",
  }),
});

export const ReportListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(REPORT_STATUSES.map((s) => Type.Literal(s)))),
    kind: Type.Optional(Type.Union(REPORT_KINDS.map((k) => Type.Literal(k)))),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_-]+$" })),
  },
  { additionalProperties: false },
);

export const ReportPage = Type.Object(
  {
    items: Type.Array(Report),
    next: Type.Union([Type.String(), Type.Null()], {
      description: "Cursor of the next page; null on the last",
    }),
  },
  { title: "ReportPage" },
);

/** The workbook itself (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet). */
export const ReportFile = Type.String({ format: "binary", description: "The .xlsx workbook" });
