import { mailQueue } from "@finanzas/contracts";
import type { Db } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import {
  type Consumer,
  createConsumer,
  createFlowProducer,
  createProducer,
  type Handlers,
  type QueueConnection,
} from "@finanzas/queue";
import type { AttachmentSource } from "./attachments.js";
import { type PlanSettings, planMailing, reportChild, type SendQueue } from "./jobs/plan-mailing.js";
import { runReminders } from "./jobs/run-reminders.js";
import { type SendSettings, sendMessage } from "./jobs/send-message.js";
import type { MailTransport } from "./transport.js";

export interface WorkerDeps {
  connection: QueueConnection;
  logger: Logger;
  concurrency: number;
  db: Db;
  transport: MailTransport;
  attachments: AttachmentSource;
  instance: string;
  plan: PlanSettings;
  send: SendSettings;
  /** Messages per second across every replica. */
  ratePerSecond: number;
  /** Runs of one message before a temporary failure is final, and the first retry's delay (doubled each time). */
  retry: { attempts: number; delayMs: number };
}

export interface MailWorker extends Consumer {}

/**
 * The consumer of the `mail` queue, rate limited across every replica, and the producers it
 * enqueues with (a planned mailing's messages, after their statements' builds when they attach one).
 */
export function createMailWorker(deps: WorkerDeps): MailWorker {
  const producer = createProducer(mailQueue, deps.connection);
  const flows = createFlowProducer(deps.connection);
  const retry = {
    attempts: deps.retry.attempts,
    backoff: { type: "exponential" as const, delay: deps.retry.delayMs },
  };
  const queue: SendQueue = {
    async send(ids) {
      for (let i = 0; i < ids.length; i += 500) {
        await Promise.all(
          ids
            .slice(i, i + 500)
            .map((messageId) => producer.add("send-message", { messageId }, { jobId: messageId, ...retry })),
        );
      }
    },
    async sendAfterReport(messageId, reportId) {
      await flows.add(mailQueue, "send-message", { messageId }, { jobId: messageId, ...retry }, [
        reportChild(reportId),
      ]);
    },
  };
  const handlers: Handlers<typeof mailQueue> = {
    "plan-mailing": (payload, ctx) => planMailing({ db: deps.db, queue, settings: deps.plan }, payload, ctx),
    "send-message": (payload, ctx) =>
      sendMessage(
        {
          db: deps.db,
          transport: deps.transport,
          attachments: deps.attachments,
          instance: deps.instance,
          settings: deps.send,
        },
        payload,
        ctx,
      ),
    "run-reminders": (payload, ctx) =>
      runReminders(
        {
          db: deps.db,
          plan: async (mailingId) => {
            await producer.add("plan-mailing", { mailingId }, { jobId: mailingId });
          },
        },
        payload,
        ctx,
      ),
  };
  const consumer = createConsumer(mailQueue, handlers, {
    ...deps.connection,
    concurrency: deps.concurrency,
    logger: deps.logger,
    limiter: { max: deps.ratePerSecond, durationMs: 1_000 },
  });
  return {
    get worker() {
      return consumer.worker;
    },
    get active() {
      return consumer.active;
    },
    observe: (listener) => consumer.observe(listener),
    async close(timeoutMs) {
      const closed = await consumer.close(timeoutMs);
      await Promise.allSettled([producer.close(), flows.close()]);
      return closed;
    },
  };
}
