/**
 * What bench/mail measures of this service, exported as `mailer/bench` so the bench uses the
 * mailer's own code through the package (it never reaches into src/). Not used by the service.
 */
export { reportAttachments } from "./attachments.js";
export { createSendQueue } from "./send-queue.js";
export { createTransport } from "./transport.js";
export { createMailWorker, DEFAULT_BATCH_SIZE } from "./worker.js";
