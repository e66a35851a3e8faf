import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createServiceLogger, runWorkerService } from "@finanzas/bootstrap";
import { seedDefaults } from "@finanzas/mail";
import { createStorage } from "@finanzas/storage";
import { reportAttachments } from "./attachments.js";
import { messageIdDomain, readConfig, senderFor } from "./config.js";
import { createRecovery } from "./recovery.js";
import { createSendQueue } from "./send-queue.js";
import { createTransport } from "./transport.js";
import { createMailWorker } from "./worker.js";

const config = readConfig(process.env);
const logger = createServiceLogger("mailer", import.meta.url, config);

await runWorkerService({
  service: "mailer",
  config,
  logger,
  start: async (stores, shutdown) => {
    const db = stores.database.db;
    const seeded = await seedDefaults(db);
    if (seeded.templates || seeded.levels)
      logger.info(seeded, "shipped mail templates and reminder levels written");
    if (!config.MAIL_UNSUBSCRIBE_SECRET) {
      logger.warn(
        "MAIL_UNSUBSCRIBE_SECRET is not set: reminders and custom mailings go without an unsubscribe link",
      );
    }
    const instance = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const retry = { attempts: config.MAIL_MAX_ATTEMPTS, delayMs: config.MAIL_RETRY_DELAY_MS };
    const requeues = createSendQueue(stores.connection, { batchSize: 1, retry });
    shutdown.add("mail recovery queue", () => requeues.close());
    const recovery = createRecovery({
      db,
      redis: stores.redis,
      prefix: config.QUEUE_PREFIX,
      instance,
      intervalMs: 5_000,
      sendingTimeoutSeconds: config.MAIL_SENDING_TIMEOUT_SECONDS,
      queue: requeues,
      requeueAfterSeconds: config.MAIL_REQUEUE_AFTER_SECONDS,
      logger,
    });
    await recovery.start();
    shutdown.add("mail recovery", () => recovery.stop());
    const transport = createTransport({
      url: config.SMTP_URL,
      poolSize: config.SMTP_POOL_SIZE,
      timeoutMs: config.SMTP_TIMEOUT_MS,
      dkim:
        config.DKIM_DOMAIN && config.DKIM_SELECTOR && config.DKIM_PRIVATE_KEY
          ? {
              domainName: config.DKIM_DOMAIN,
              keySelector: config.DKIM_SELECTOR,
              privateKey: config.DKIM_PRIVATE_KEY.replace(/\\n/g, "\n"),
            }
          : undefined,
    });
    shutdown.add("smtp pool", () => transport.close());
    return createMailWorker({
      connection: stores.connection,
      logger,
      concurrency: config.MAIL_CONCURRENCY,
      db,
      transport,
      attachments: reportAttachments(db, createStorage(config, "mailer")),
      instance,
      plan: {
        reminderMinDays: config.MAIL_REMINDER_MIN_DAYS,
        defaultLang: config.MAIL_DEFAULT_LANG,
        attachStatements: config.MAIL_ATTACH_STATEMENTS,
        messageIdDomain: messageIdDomain(config),
      },
      send: {
        fromFor: (companyId) => senderFor(config, companyId),
        replyTo: config.MAIL_REPLY_TO,
        publicUrl: config.MAIL_PUBLIC_URL,
        unsubscribeSecret: config.MAIL_UNSUBSCRIBE_SECRET,
        throttlePauseMs: config.MAIL_THROTTLE_PAUSE_MS,
        attachmentWaitMs: 15_000,
      },
      ratePerSecond: config.MAIL_RATE_PER_SECOND,
      batchSize: config.MAIL_BATCH_SIZE,
      retry,
    });
  },
});
