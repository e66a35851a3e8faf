import { mailQueue } from "@finanzas/contracts";
import type { Db } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import {
  type Consumer,
  createConsumer,
  createProducer,
  createRedis,
  type Handlers,
  type QueueConnection,
} from "@finanzas/queue";
import type { AttachmentSource } from "./attachments.js";
import { type PlanSettings, planMailing } from "./jobs/plan-mailing.js";
import { runReminders } from "./jobs/run-reminders.js";
import { type SendDeps, type SendSettings, sendBatch } from "./jobs/send-batch.js";
import { sendMessage } from "./jobs/send-message.js";
import { createOutboxWriter } from "./outbox-writer.js";
import { createRateLimiter } from "./rate-limit.js";
import { createSendQueue } from "./send-queue.js";
import type { MailTransport } from "./transport.js";

export interface WorkerDeps {
  connection: QueueConnection;
  logger: Logger;
  /** mail jobs at once in this process (send-batch jobs share the pooled connections). */
  concurrency: number;
  db: Db;
  transport: MailTransport;
  attachments: AttachmentSource;
  instance: string;
  plan: PlanSettings;
  send: SendSettings;
  /** Messages per second across every replica. */
  ratePerSecond: number;
  /**
   * Messages per send-batch job a planning enqueues (default 50), never more than a tenth of
   * `ratePerSecond` (at least one): a batch then takes at least about a tenth of a second at the
   * rate, so a mailing spreads over the replicas instead of going to whichever takes jobs first.
   */
  batchSize?: number | undefined;
  /** Runs of one message before a temporary failure is final, and the first retry's delay (doubled each time). */
  retry: { attempts: number; delayMs: number };
}

export interface MailWorker extends Consumer {}

/** Messages per send-batch job unless set. */
export const DEFAULT_BATCH_SIZE = 50;

/** The batch size used: the one set, at most a tenth of the rate, at least one. */
export const batchSizeFor = (batchSize: number, ratePerSecond: number) =>
  Math.max(1, Math.min(batchSize, Math.ceil(ratePerSecond / 10)));

/**
 * The consumer of the `mail` queue and what its jobs share in this process: the producers a
 * planning enqueues with, the rate limit (a token bucket in Redis that every replica takes from),
 * and the outbox writer that groups claims and outcomes into few statements.
 */
export function createMailWorker(deps: WorkerDeps): MailWorker {
  const producer = createProducer(mailQueue, deps.connection);
  const sendQueue = createSendQueue(deps.connection, {
    batchSize: batchSizeFor(deps.batchSize ?? DEFAULT_BATCH_SIZE, deps.ratePerSecond),
    retry: deps.retry,
  });
  const redis = createRedis(deps.connection.redisUrl);
  const sending: SendDeps = {
    db: deps.db,
    transport: deps.transport,
    attachments: deps.attachments,
    instance: deps.instance,
    settings: deps.send,
    maxAttempts: deps.retry.attempts,
    rate: createRateLimiter({
      redis,
      prefix: deps.connection.prefix,
      ratePerSecond: deps.ratePerSecond,
      // a few round trips' worth of the messages this process has in flight
      prefetch: deps.transport.connections * 4,
    }),
    outbox: createOutboxWriter(deps.db, deps.instance),
  };
  const handlers: Handlers<typeof mailQueue> = {
    "plan-mailing": (payload, ctx) =>
      planMailing({ db: deps.db, queue: sendQueue, settings: deps.plan }, payload, ctx),
    "send-batch": (payload, ctx) => sendBatch(sending, payload, ctx),
    "send-message": (payload, ctx) => sendMessage(sending, payload, ctx),
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
    // Messages are bounded by the token bucket, each one; BullMQ's limiter bounds jobs, and it is
    // what a 421 sets to stop every replica from taking jobs while the queue is paused.
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
      await Promise.allSettled([producer.close(), sendQueue.close()]);
      redis.disconnect();
      return closed;
    },
  };
}
