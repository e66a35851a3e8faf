import { createHash } from "node:crypto";
import { MAX_SEND_BATCH, mailQueue, reportsQueue } from "@finanzas/contracts";
import { sendJobId } from "@finanzas/mail";
import { createFlowProducer, createProducer, type QueueConnection } from "@finanzas/queue";

/*
 * How planned messages reach the queue: in send-batch jobs of `batchSize` messages (a job per
 * message costs more in Redis and in the worker than sending the message does). A batch whose
 * messages attach statements being built now is a flow: their build-report jobs are its children,
 * and it runs once they have ended. A batch's job id is derived from its messages, so planning a
 * mailing again enqueues nothing twice.
 */

export interface MessageToQueue {
  id: string;
  /** The report this message's statement is being built in, when its build is enqueued now. */
  buildReport?: string | undefined;
}

export interface SendQueue {
  /** Enqueues messages, in the order given, `batchSize` per send-batch job. */
  send(messages: readonly MessageToQueue[]): Promise<void>;
  /** Enqueues the builds of reports requested earlier and not built yet (job id = report id: never twice). */
  build(reportIds: readonly string[]): Promise<void>;
  /**
   * Enqueues a send-message job per row, its id `sendJobId(id, attempts)` (a person's resend uses
   * the same): a row whose job of that id the queue still keeps, ended or not, gets no second one.
   * Returns how many jobs were added.
   */
  sendEach(messages: readonly { id: string; attempts: number }[]): Promise<number>;
  /** The ids of the messages a job still to run (waiting, delayed, active, …) names. */
  pending(): Promise<Set<string>>;
  /**
   * Enqueues the planning of each mailing that has no plan-mailing job (its id is the mailing's):
   * one the queue still keeps, ended or not, gets no second. Returns how many were added.
   */
  planEach(mailingIds: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

export interface SendQueueOptions {
  /** Messages per send-batch job (at most MAX_SEND_BATCH). */
  batchSize: number;
  /** Runs of a batch before a temporary failure of its messages is final, and the first retry's delay. */
  retry: { attempts: number; delayMs: number };
}

/** The states of a job still to run. */
const PENDING = ["waiting", "delayed", "active", "prioritized", "waiting-children", "paused"] as const;

/** The job id of a batch: the same messages give the same id. */
export const batchJobId = (messageIds: readonly string[]) =>
  createHash("sha256").update(messageIds.join(",")).digest("hex").slice(0, 40);

/** The child job of a batch whose message attaches a statement being built. */
export const reportChild = (reportId: string) => ({
  definition: reportsQueue,
  name: "build-report" as const,
  payload: { reportId },
  jobId: reportId,
});

export function createSendQueue(connection: QueueConnection, options: SendQueueOptions): SendQueue {
  const producer = createProducer(mailQueue, connection);
  const reports = createProducer(reportsQueue, connection);
  const flows = createFlowProducer(connection);
  const size = Math.max(1, Math.min(options.batchSize, MAX_SEND_BATCH));
  const retry = {
    attempts: options.retry.attempts,
    backoff: { type: "exponential" as const, delay: options.retry.delayMs },
  };
  return {
    async send(messages) {
      const batches: MessageToQueue[][] = [];
      for (let i = 0; i < messages.length; i += size) batches.push(messages.slice(i, i + size));
      for (let i = 0; i < batches.length; i += 100) {
        await Promise.all(
          batches.slice(i, i + 100).map((batch) => {
            const messageIds = batch.map((m) => m.id);
            const jobId = batchJobId(messageIds);
            const builds = batch.flatMap((m) => (m.buildReport ? [reportChild(m.buildReport)] : []));
            return builds.length === 0
              ? producer.add("send-batch", { messageIds }, { jobId, ...retry })
              : flows.add(mailQueue, "send-batch", { messageIds }, { jobId, ...retry }, builds);
          }),
        );
      }
    },
    async sendEach(messages) {
      let added = 0;
      for (let i = 0; i < messages.length; i += 100) {
        await Promise.all(
          messages.slice(i, i + 100).map(async (m) => {
            const jobId = sendJobId(m.id, m.attempts);
            // a job of this id kept by the queue (its end recorded) would not be added again
            if (await producer.queue.getJob(jobId)) return;
            await producer.add("send-message", { messageId: m.id }, { jobId });
            added++;
          }),
        );
      }
      return added;
    },
    async pending() {
      const ids = new Set<string>();
      const jobs = await producer.queue.getJobs([...PENDING]);
      for (const job of jobs) {
        const data = job?.data as { messageIds?: unknown; messageId?: unknown } | undefined;
        if (Array.isArray(data?.messageIds)) for (const id of data.messageIds) ids.add(String(id));
        if (typeof data?.messageId === "string") ids.add(data.messageId);
      }
      return ids;
    },
    async planEach(mailingIds) {
      let added = 0;
      for (const mailingId of mailingIds) {
        if (await producer.queue.getJob(mailingId)) continue;
        await producer.add("plan-mailing", { mailingId }, { jobId: mailingId });
        added++;
      }
      return added;
    },
    async build(reportIds) {
      await Promise.all(
        reportIds.map((reportId) => reports.add("build-report", { reportId }, { jobId: reportId })),
      );
    },
    async close() {
      await Promise.allSettled([producer.close(), reports.close(), flows.close()]);
    },
  };
}
