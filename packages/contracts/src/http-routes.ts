import { type TSchema, Type } from "@sinclair/typebox";
import { HealthLive, HealthReady } from "./http.js";
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
  /**
   * The route's own 4xx answers (problem+json), by status, with when they happen. The ones every
   * route of its kind may answer are added by the server and need no entry: 400 (a route with
   * parameters, a query or a body), 401 and 403 (a route that needs a token, 403 when not every
   * role may call it), 404 (a route with path parameters), 413 and 415 (a route with a body), and
   * 429 (the per-client rate limit).
   */
  problems?: Record<number, string>;
}

/**
 * Routes outside the API that answer without a token: the OpenAPI document, Swagger UI, and the
 * queue dashboard's login form and logout. With the catalog's public routes, they are the only
 * public ones: the server refuses to start with a route declared public anywhere else. A trailing
 * `*` matches every path under a prefix.
 */
export const PUBLIC_PAGES: readonly { method: HttpMethod; url: string; why: string }[] = [
  { method: "GET", url: "/openapi.json", why: "the API's description, no data" },
  { method: "GET", url: "/docs*", why: "Swagger UI: pages and assets that show /openapi.json" },
  { method: "GET", url: "/admin/login", why: "the queue dashboard's login form" },
  { method: "POST", url: "/admin/login", why: "the form's sign-in (throttled like the API's login)" },
  { method: "GET", url: "/admin/queues/logout", why: "ends the dashboard session of its cookie, if any" },
  { method: "POST", url: "/admin/queues/logout", why: "ends the dashboard session of its cookie, if any" },
];

/** Whether a route (Fastify pattern) is declared public: in the catalog or in PUBLIC_PAGES. */
export function isDeclaredPublic(method: string, url: string): boolean {
  return (
    Object.values(apiRoutes as Record<string, ApiRoute>).some(
      (r) => r.access === "public" && r.method === method && r.url === url,
    ) ||
    PUBLIC_PAGES.some(
      (p) =>
        p.method === method && (p.url.endsWith("*") ? url.startsWith(p.url.slice(0, -1)) : p.url === url),
    )
  );
}

const defineRoutes = <const T extends Record<string, ApiRoute>>(routes: T): T => routes;

const ALL: readonly Role[] = ["admin", "finance", "viewer"];
const ADMIN: readonly Role[] = ["admin"];
const SYNCERS: readonly Role[] = ["admin", "finance"];
const MAILERS: readonly Role[] = ["admin", "finance"];
const NoContent = Type.Null({ description: "No content" });

export const apiRoutes = defineRoutes({
  healthLive: {
    method: "GET",
    url: "/health/live",
    summary: "The process runs",
    tag: "operations",
    access: "public",
    response: { 200: HealthLive },
  },
  healthReady: {
    method: "GET",
    url: "/health/ready",
    summary:
      "PostgreSQL answers and the process is not shutting down (503 otherwise); Redis not answering is `degraded` (200: finance reads still answer, queue operations 503)",
    tag: "operations",
    access: "public",
    response: { 200: HealthReady, 503: HealthReady },
  },
  login: {
    method: "POST",
    url: "/api/v1/auth/login",
    summary: "Log in with email and password; returns an access token and a refresh token",
    tag: "auth",
    access: "public",
    body: LoginBody,
    response: { 200: TokenResponse },
    problems: {
      401: "Wrong email or password (the same answer for an unknown email or a disabled user)",
      429: "Too many failed sign-ins for this account or from this address, on any login route; Retry-After says when to try again",
    },
  },
  refresh: {
    method: "POST",
    url: "/api/v1/auth/refresh",
    summary: "Exchange a refresh token for a new pair (the old one stops working)",
    tag: "auth",
    access: "public",
    body: RefreshBody,
    response: { 200: TokenResponse },
    problems: {
      401: "The refresh token is unknown, expired, or was used already (then its whole session is revoked): log in again",
    },
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
    problems: { 409: "A user with this email exists" },
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
    problems: { 409: "An admin may not disable themselves or take away their own admin role" },
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
    problems: {
      429: "The caller has MAIL_MAX_ACTIVE_PER_USER mailings planning or sending already: wait for one, or cancel one",
    },
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
    problems: { 409: "The mailing is over already (done, cancelled, failed, or a finished dry run)" },
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
    problems: { 409: "The message is neither failed nor unknown" },
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
    problems: { 409: "A template with this key and language exists" },
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
    problems: { 409: "Another template has this key and language" },
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
    problems: {
      429: "The caller has MAIL_MAX_ACTIVE_PER_USER mailings planning or sending already: wait for one, or cancel one",
    },
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
    problems: { 409: "The address is on the suppression list already" },
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
    summary:
      "Start a sync of some or all models (incremental or full); while an identical sync is queued or running, that run is returned instead (existing: true)",
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
    problems: {
      429: "The caller has REPORT_MAX_ACTIVE_PER_USER reports queued or running already: wait for one, or cancel one",
    },
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
    problems: {
      409: "The report has not succeeded (yet)",
      410: "The report expired, or its file is gone: request it again",
    },
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
