/**
 * @finanzas/mail: mail as the services see it. The mailer plans and sends; the web-api creates
 * mailings, edits templates, previews, cancels, resends and keeps the suppression list, through
 * the same functions:
 *
 * - outbox.ts: mailings and their messages (one row per recipient, claimed atomically to send);
 * - recipients.ts: who a mailing goes to and what each message says, from the finance queries;
 * - render.ts, format.ts, html-text.ts: LiquidJS templates with limits, money and dates in the
 *   partner's language, the plain-text part from the HTML;
 * - templates.ts, defaults.ts: the templates people edit and the ones shipped (es, en);
 * - suppressions.ts, unsubscribe.ts: addresses never written to again, one-click unsubscribe tokens.
 */
export { addDecimals, signOf } from "./decimal.js";
export {
  DEFAULT_REMINDER_LEVELS,
  DEFAULT_TEMPLATES,
  type DefaultTemplate,
  seedDefaults,
} from "./defaults.js";
export { formatDate, formatMoney, languageOf, localeOf } from "./format.js";
export { htmlToText } from "./html-text.js";
export { type PreviewSource, previewTemplate, renderMessage } from "./message.js";
export {
  cancelMailing,
  cancelOpenOfCancelled,
  claimMany,
  countsByMailing,
  countsOf,
  createMailing,
  finishIfDone,
  getMailing,
  getMessage,
  listMailings,
  listMessages,
  type MailingRecord,
  type MessageRecord,
  type MessageToSend,
  markPlanned,
  markPlanningFailed,
  messagesToSend,
  OPEN_STATES,
  type Outcome,
  recoverStale,
  requeueForResend,
  sendingInstances,
  sendJobId,
  settleMany,
  waitingSince,
  writeOutbox,
} from "./outbox.js";
export {
  levelFor,
  MAILING_SOURCES,
  type MailingToPlan,
  type PlanOptions,
  planRecipients,
  type Recipient,
  usableAddress,
} from "./recipients.js";
export {
  checkTemplate,
  MAX_RENDERED_CHARS,
  MAX_TEMPLATE_CHARS,
  RENDER_TIME_LIMIT_MS,
  type Rendered,
  renderTemplate,
  TemplateError,
  type TemplateSource,
} from "./render.js";
export {
  getSuppression,
  listSuppressions,
  suppress,
  suppressedAmong,
  unsuppress,
} from "./suppressions.js";
export {
  createTemplate,
  getTemplate,
  listTemplates,
  type TemplateInput,
  type TemplateRecord,
  templatesById,
  updateTemplate,
} from "./templates.js";
export {
  type UnsubscribeClaim,
  unsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
} from "./unsubscribe.js";
