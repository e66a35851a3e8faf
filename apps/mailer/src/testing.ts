/**
 * The mailer as other packages' tests run it (the web-api's, whose mailings, test sends and resends
 * must really be planned and sent): exported as `mailer/testing`, so a test declares `mailer` as a
 * dev dependency instead of reaching into this app's files. Not used by the service itself.
 */
import { randomUUID } from "node:crypto";
import type { Db } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import { seedDefaults } from "@finanzas/mail";
import type { QueueConnection } from "@finanzas/queue";
import type { AttachmentSource } from "./attachments.js";
import { createTransport } from "./transport.js";
import { createMailWorker, type MailWorker } from "./worker.js";

export interface TestMailer {
  worker: MailWorker;
  /** This mailer's id in the outbox's claimed_by. */
  instance: string;
  close(): Promise<void>;
}

const noAttachments: AttachmentSource = {
  lookup: async () => ({
    state: () => ({ failed: "no statement attachments in this test" }),
    read: async () => ({ failed: "no statement attachments in this test" }),
  }),
};

/**
 * A mailer consumer in this process, as main.ts builds it (the shipped templates seeded first),
 * sending to `smtpUrl` without statement attachments, fast: no rate limit to speak of, short retries.
 */
export async function startTestMailer(options: {
  connection: QueueConnection;
  db: Db;
  logger: Logger;
  smtpUrl: string;
  /** MAIL_PUBLIC_URL: the web-api's address in unsubscribe links. */
  publicUrl: string;
  /** MAIL_UNSUBSCRIBE_SECRET; without it messages carry no unsubscribe link. */
  unsubscribeSecret?: string;
  from?: string;
}): Promise<TestMailer> {
  await seedDefaults(options.db);
  const transport = createTransport({ url: options.smtpUrl, poolSize: 2, timeoutMs: 5_000, dkim: undefined });
  const instance = `test:${randomUUID().slice(0, 8)}`;
  const worker = createMailWorker({
    connection: options.connection,
    logger: options.logger,
    concurrency: 4,
    db: options.db,
    transport,
    attachments: noAttachments,
    instance,
    plan: {
      reminderMinDays: 7,
      defaultLang: "es",
      attachStatements: false,
      messageIdDomain: "finanzas.test",
      firstSyncRecheckMs: 200,
    },
    send: {
      fromFor: () => options.from ?? "Finanzas <no-reply@finanzas.test>",
      publicUrl: options.publicUrl,
      unsubscribeSecret: options.unsubscribeSecret,
      throttlePauseMs: 1_000,
      attachmentWaitMs: 500,
    },
    ratePerSecond: 10_000,
    retry: { attempts: 3, delayMs: 200 },
  });
  return {
    worker,
    instance,
    async close() {
      await worker.close(5_000);
      transport.close();
    },
  };
}
