import { type TSchema, Type } from "@sinclair/typebox";
import {
  ChangePasswordBody,
  CreateUserBody,
  LoginBody,
  LogoutBody,
  RefreshBody,
  type Role,
  TokenResponse,
  UpdateUserBody,
  User,
  UserList,
} from "./http-auth.js";
import { IdParams, UuidParams } from "./http-common.js";
import {
  AccountPage,
  AccountQuery,
  AgingQuery,
  AgingReport,
  Dashboard,
  DashboardQuery,
  InvoiceDetail,
  InvoicePage,
  InvoiceQuery,
  JournalItemPage,
  JournalItemQuery,
  PartnerDetail,
  PartnerPage,
  PartnerQuery,
  PaymentPage,
  PaymentQuery,
} from "./http-finance.js";
import {
  SyncRecordsAccepted,
  SyncRecordsBody,
  SyncRun,
  SyncRunAccepted,
  SyncRunCreate,
  SyncRunPage,
  SyncRunParams,
  SyncRunQuery,
  SyncState,
} from "./http-sync.js";
import {
  Mailing,
  MailingAccepted,
  MailingPage,
  MailingQuery,
  MailingRequest,
  MailMessage,
  MailMessagePage,
  MailMessageParams,
  MailMessageQuery,
  MailTemplate,
  MailTemplateCreate,
  MailTemplateDraftPreviewBody,
  MailTemplateList,
  MailTemplatePreview,
  MailTemplatePreviewBody,
  MailTemplateUpdate,
  MailTestSendAccepted,
  Suppression,
  SuppressionCreate,
  SuppressionPage,
  SuppressionParams,
  SuppressionQuery,
  UnsubscribeErrorPage,
  UnsubscribePage,
  UnsubscribeQuery,
} from "./mail.js";
import { Report, ReportAccepted, ReportCreate, ReportFile, ReportListQuery, ReportPage } from "./reports.js";

export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE";

/**
 * One route of the REST API: the server registers it from this definition (validation,
 * serialisation, OpenAPI, who may call it), and @finanzas/api-client derives its types from it.
 */
export interface ApiRoute {
  method: HttpMethod;
  /** Fastify-style path, parameters as `:name`. */
  url: string;
  summary: string;
  tag: string;
  /**
   * "public": no token; otherwise the roles allowed (401 without a valid token, or with a revoked one;
   * 403 for other roles).
   */
  access: "public" | readonly Role[];
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  /** Success responses by status code. */
  response: Record<number, TSchema>;
  /** Served from the Redis cache (ETag, 304; gzip when the client accepts it). */
  cached?: boolean;
  /** The success response's media type when it is not JSON (an HTML page); problems stay problem+json. */
  contentType?: string;
  /**
   * With `contentType`: the page an error is answered with, in that media type, to a client that
   * prefers it to JSON (a browser following a link in an email); problem+json to any other client.
   * Errors are documented in both media types.
   */
  errorPage?: TSchema;
}

const defineRoutes = <const T extends Record<string, ApiRoute>>(routes: T): T => routes;

const ALL: readonly Role[] = ["admin", "finance", "viewer"];
const ADMIN: readonly Role[] = ["admin"];
const SYNCERS: readonly Role[] = ["admin", "finance"];
const MAILERS: readonly Role[] = ["admin", "finance"];
const NoContent = Type.Null({ description: "No content" });

export const apiRoutes = defineRoutes({
  login: {
    method: "POST",
    url: "/api/v1/auth/login",
    summary: "Log in with email and password; returns an access token and a refresh token",
    tag: "auth",
    access: "public",
    body: LoginBody,
    response: { 200: TokenResponse },
  },
  refresh: {
    method: "POST",
    url: "/api/v1/auth/refresh",
    summary: "Exchange a refresh token for a new pair (the old one stops working)",
    tag: "auth",
    access: "public",
    body: RefreshBody,
    response: { 200: TokenResponse },
  },
  logout: {
    method: "POST",
    url: "/api/v1/auth/logout",
    summary:
      "Revoke a refresh token and its whole session: its access tokens stop working at once, on every replica",
    tag: "auth",
    access: "public",
    body: LogoutBody,
    response: { 204: NoContent },
  },
  logoutAll: {
    method: "POST",
    url: "/api/v1/auth/logout-all",
    summary:
      "Log out everywhere: revoke every session of the calling user and every access token issued to it so far (this one included), at once, on every replica",
    tag: "auth",
    access: ALL,
    response: { 204: NoContent },
  },
  changePassword: {
    method: "POST",
    url: "/api/v1/auth/password",
    summary:
      "Change the calling user's password (the current one is asked again): clears mustChangePassword, ends every session and access token of the user, and returns a new pair for this client",
    tag: "auth",
    access: ALL,
    body: ChangePasswordBody,
    response: { 200: TokenResponse },
  },
  me: {
    method: "GET",
    url: "/api/v1/me",
    summary: "The user the access token belongs to",
    tag: "auth",
    access: ALL,
    response: { 200: User },
  },
  listUsers: {
    method: "GET",
    url: "/api/v1/users",
    summary: "Every user",
    tag: "users",
    access: ADMIN,
    response: { 200: UserList },
  },
  createUser: {
    method: "POST",
    url: "/api/v1/users",
    summary: "Create a user",
    tag: "users",
    access: ADMIN,
    body: CreateUserBody,
    response: { 201: User },
  },
  updateUser: {
    method: "PATCH",
    url: "/api/v1/users/:id",
    summary:
      "Change a user's role, name or password, or disable it; a new role or password, or disabling, ends its sessions and access tokens at once",
    tag: "users",
    access: ADMIN,
    params: UuidParams,
    body: UpdateUserBody,
    response: { 200: User },
  },
  listPartners: {
    method: "GET",
    url: "/api/v1/partners",
    summary: "Partners: search by name, reference or VAT; customers or vendors",
    tag: "finance",
    access: ALL,
    querystring: PartnerQuery,
    response: { 200: PartnerPage },
    cached: true,
  },
  getPartner: {
    method: "GET",
    url: "/api/v1/partners/:id",
    summary: "A partner with its open receivable and payable balance",
    tag: "finance",
    access: ALL,
    params: IdParams,
    response: { 200: PartnerDetail },
    cached: true,
  },
  listInvoices: {
    method: "GET",
    url: "/api/v1/invoices",
    summary: "Customer invoices and vendor bills (with credit notes), filtered and sorted",
    tag: "finance",
    access: ALL,
    querystring: InvoiceQuery,
    response: { 200: InvoicePage },
    cached: true,
  },
  getInvoice: {
    method: "GET",
    url: "/api/v1/invoices/:id",
    summary: "An invoice or bill with its lines",
    tag: "finance",
    access: ALL,
    params: IdParams,
    response: { 200: InvoiceDetail },
    cached: true,
  },
  listPayments: {
    method: "GET",
    url: "/api/v1/payments",
    summary: "Payments",
    tag: "finance",
    access: ALL,
    querystring: PaymentQuery,
    response: { 200: PaymentPage },
    cached: true,
  },
  listAccounts: {
    method: "GET",
    url: "/api/v1/accounts",
    summary: "The chart of accounts",
    tag: "finance",
    access: ALL,
    querystring: AccountQuery,
    response: { 200: AccountPage },
    cached: true,
  },
  listJournalItems: {
    method: "GET",
    url: "/api/v1/journal-items",
    summary: "Journal items (account.move.line)",
    tag: "finance",
    access: ALL,
    querystring: JournalItemQuery,
    response: { 200: JournalItemPage },
    cached: true,
  },
  aging: {
    method: "GET",
    url: "/api/v1/aging",
    summary: "Receivables or payables aging per partner as of a date, in company currency",
    tag: "finance",
    access: ALL,
    querystring: AgingQuery,
    response: { 200: AgingReport },
    cached: true,
  },
  dashboard: {
    method: "GET",
    url: "/api/v1/dashboard",
    summary: "Revenue and bills by month, open and overdue totals, cash and bank balances",
    tag: "finance",
    access: ALL,
    querystring: DashboardQuery,
    response: { 200: Dashboard },
    cached: true,
  },
  listMailings: {
    method: "GET",
    url: "/api/v1/mailings",
    summary: "Mailings, newest first, with their messages counted per state",
    tag: "mail",
    access: MAILERS,
    querystring: MailingQuery,
    response: { 200: MailingPage },
  },
  createMailing: {
    method: "POST",
    url: "/api/v1/mailings",
    summary:
      "Start a mailing (statements, payment reminders, or a custom template to chosen partners); with dryRun the mailer only counts the recipients (and who would be skipped, and why) and renders a preview",
    tag: "mail",
    access: MAILERS,
    body: MailingRequest,
    response: { 202: MailingAccepted },
  },
  getMailing: {
    method: "GET",
    url: "/api/v1/mailings/:id",
    summary: "A mailing: status, messages per state, progress, preview",
    tag: "mail",
    access: MAILERS,
    params: UuidParams,
    response: { 200: Mailing },
  },
  listMailingMessages: {
    method: "GET",
    url: "/api/v1/mailings/:id/messages",
    summary: "A mailing's messages by partner, optionally in one state",
    tag: "mail",
    access: MAILERS,
    params: UuidParams,
    querystring: MailMessageQuery,
    response: { 200: MailMessagePage },
  },
  cancelMailing: {
    method: "POST",
    url: "/api/v1/mailings/:id/cancel",
    summary: "Cancel a mailing: its messages not yet being sent are cancelled (409 when it is already over)",
    tag: "mail",
    access: MAILERS,
    params: UuidParams,
    response: { 200: Mailing },
  },
  resendMailMessage: {
    method: "POST",
    url: "/api/v1/mailings/:id/messages/:messageId/resend",
    summary:
      "Send a failed or unknown message again (409 in any other state); check first that an unknown one did not arrive",
    tag: "mail",
    access: MAILERS,
    params: MailMessageParams,
    response: { 202: MailMessage },
  },
  listMailTemplates: {
    method: "GET",
    url: "/api/v1/mail/templates",
    summary: "Every mail template, each language variant on its own",
    tag: "mail",
    access: MAILERS,
    response: { 200: MailTemplateList },
  },
  getMailTemplate: {
    method: "GET",
    url: "/api/v1/mail/templates/:id",
    summary: "A mail template",
    tag: "mail",
    access: MAILERS,
    params: UuidParams,
    response: { 200: MailTemplate },
  },
  createMailTemplate: {
    method: "POST",
    url: "/api/v1/mail/templates",
    summary:
      "Create a mail template (Liquid; checked before it is stored); 409 when its key and language exist",
    tag: "mail",
    access: MAILERS,
    body: MailTemplateCreate,
    response: { 201: MailTemplate },
  },
  updateMailTemplate: {
    method: "PATCH",
    url: "/api/v1/mail/templates/:id",
    summary: "Change a mail template (shipped ones too); the result is checked before it is stored",
    tag: "mail",
    access: MAILERS,
    params: UuidParams,
    body: MailTemplateUpdate,
    response: { 200: MailTemplate },
  },
  previewMailTemplate: {
    method: "POST",
    url: "/api/v1/mail/templates/:id/preview",
    summary: "Render a stored template for a partner, with the mailer's render and the partner's figures",
    tag: "mail",
    access: MAILERS,
    params: UuidParams,
    body: MailTemplatePreviewBody,
    response: { 200: MailTemplatePreview },
  },
  previewMailTemplateDraft: {
    method: "POST",
    url: "/api/v1/mail/templates/preview",
    summary: "Render a template given in the body (not stored) for a partner, as the mailer would",
    tag: "mail",
    access: MAILERS,
    body: MailTemplateDraftPreviewBody,
    response: { 200: MailTemplatePreview },
  },
  testSendMailTemplate: {
    method: "POST",
    url: "/api/v1/mail/templates/:id/test",
    summary:
      "Send a stored template, rendered for a partner, to the caller's own address only (a one-message mailing)",
    tag: "mail",
    access: MAILERS,
    params: UuidParams,
    body: MailTemplatePreviewBody,
    response: { 202: MailTestSendAccepted },
  },
  listSuppressions: {
    method: "GET",
    url: "/api/v1/mail/suppressions",
    summary: "Addresses never written to again (bounced, unsubscribed, added by hand), by address",
    tag: "mail",
    access: MAILERS,
    querystring: SuppressionQuery,
    response: { 200: SuppressionPage },
  },
  createSuppression: {
    method: "POST",
    url: "/api/v1/mail/suppressions",
    summary: "Add an address to the suppression list by hand (409 when it is there already)",
    tag: "mail",
    access: MAILERS,
    body: SuppressionCreate,
    response: { 201: Suppression },
  },
  deleteSuppression: {
    method: "DELETE",
    url: "/api/v1/mail/suppressions/:email",
    summary: "Take an address off the suppression list: mailings write to it again",
    tag: "mail",
    access: MAILERS,
    params: SuppressionParams,
    response: { 204: NoContent },
  },
  unsubscribe: {
    method: "POST",
    url: "/api/v1/mail/unsubscribe",
    summary:
      "One-click unsubscribe (RFC 8058): the List-Unsubscribe link of reminders and custom mailings, POSTed with List-Unsubscribe=One-Click, adds its address to the suppression list. No login: the signed token is the authority, and it can do nothing else",
    tag: "mail",
    access: "public",
    querystring: UnsubscribeQuery,
    response: { 200: UnsubscribePage },
    contentType: "text/html; charset=utf-8",
    errorPage: UnsubscribeErrorPage,
  },
  unsubscribePage: {
    method: "GET",
    url: "/api/v1/mail/unsubscribe",
    summary:
      "The unsubscribe link opened in a browser: a page with a button that POSTs it (a GET changes nothing, since mail scanners fetch links)",
    tag: "mail",
    access: "public",
    querystring: UnsubscribeQuery,
    response: { 200: UnsubscribePage },
    contentType: "text/html; charset=utf-8",
    errorPage: UnsubscribeErrorPage,
  },
  createSyncRun: {
    method: "POST",
    url: "/api/v1/sync/runs",
    summary: "Start a sync of some or all models (incremental or full)",
    tag: "sync",
    access: SYNCERS,
    body: SyncRunCreate,
    response: { 202: SyncRunAccepted },
  },
  listSyncRuns: {
    method: "GET",
    url: "/api/v1/sync/runs",
    summary: "Sync run history, newest first",
    tag: "sync",
    access: SYNCERS,
    querystring: SyncRunQuery,
    response: { 200: SyncRunPage },
  },
  getSyncRun: {
    method: "GET",
    url: "/api/v1/sync/runs/:id",
    summary: "A sync run: status, progress, per-model counts and errors",
    tag: "sync",
    access: SYNCERS,
    params: SyncRunParams,
    response: { 200: SyncRun },
  },
  syncState: {
    method: "GET",
    url: "/api/v1/sync/state",
    summary: "Per model: cursor, last success, rows and lag",
    tag: "sync",
    access: SYNCERS,
    response: { 200: SyncState },
  },
  syncRecords: {
    method: "POST",
    url: "/api/v1/sync/records",
    summary: "Re-read some records of a model from Odoo now",
    tag: "sync",
    access: SYNCERS,
    body: SyncRecordsBody,
    response: { 202: SyncRecordsAccepted },
  },
  createReport: {
    method: "POST",
    url: "/api/v1/reports",
    summary: "Request an Excel report; an identical one built from the same synced data is returned at once",
    tag: "reports",
    access: ALL,
    body: ReportCreate,
    response: { 202: ReportAccepted },
  },
  listReports: {
    method: "GET",
    url: "/api/v1/reports",
    summary: "Your reports, newest first (admins see everyone's)",
    tag: "reports",
    access: ALL,
    querystring: ReportListQuery,
    response: { 200: ReportPage },
  },
  getReport: {
    method: "GET",
    url: "/api/v1/reports/:id",
    summary: "A report: status, progress, rows, size, expiry, download link when done",
    tag: "reports",
    access: ALL,
    params: UuidParams,
    response: { 200: Report },
  },
  downloadReport: {
    method: "GET",
    url: "/api/v1/reports/:id/file",
    summary: "The report's workbook (or a redirect to the object store's presigned URL)",
    tag: "reports",
    access: ALL,
    params: UuidParams,
    response: { 200: ReportFile },
  },
  deleteReport: {
    method: "DELETE",
    url: "/api/v1/reports/:id",
    summary: "Cancel a queued or running report, or delete a finished one and its file",
    tag: "reports",
    access: ALL,
    params: UuidParams,
    response: { 204: NoContent },
  },
});

export type ApiRoutes = typeof apiRoutes;
export type ApiRouteName = keyof ApiRoutes;
