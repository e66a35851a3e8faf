/**
 * The report-worker for other packages' tests that need reports really built (the web-api's, the
 * mailer's): exported as `report-worker/testing`, so a test declares `report-worker` as a dev
 * dependency instead of reaching into this app's files. Not used by the service itself.
 */
export { XLSX_CONTENT_TYPE } from "./jobs/build-report.js";
export { createReportWorker, type WorkerDeps } from "./worker.js";
