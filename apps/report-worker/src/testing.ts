/**
 * The report-worker's consumer for other packages' tests that need reports really built (the
 * mailer's statement attachments): exported as `report-worker/testing`, so a test declares
 * `report-worker` as a dev dependency (turbo then sees that a report change touches it) instead of
 * reaching into this app's files. Not used by the service itself.
 */
export type { BuildDeps } from "./jobs/build-report.js";
export { createReportWorker, type WorkerDeps } from "./worker.js";
