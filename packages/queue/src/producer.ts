import type { JobName, PayloadOf, QueueDefinition } from "@finanzas/contracts";
import { type JobState, type JobsOptions, Queue } from "bullmq";
import { redisOptions } from "./redis.js";
import { assertMatches } from "./validate.js";

export interface QueueConnection {
  /** redis:// URL. */
  redisUrl: string;
  /** Key prefix (QUEUE_PREFIX): environments and test suites never share keys. */
  prefix: string;
}

export interface Producer<Q extends QueueDefinition> {
  readonly definition: Q;
  readonly queue: Queue;
  /** Validates the payload against the contract, then enqueues. Rejects with a PayloadError on a bad payload. */
  add<J extends JobName<Q>>(
    name: J,
    payload: PayloadOf<Q, J>,
    options?: JobsOptions,
  ): Promise<{ id: string }>;
  close(): Promise<void>;
}

export function createProducer<Q extends QueueDefinition>(
  definition: Q,
  connection: QueueConnection,
): Producer<Q> {
  const queue = new Queue(definition.name, {
    connection: redisOptions(connection.redisUrl, "producer"),
    prefix: connection.prefix,
    defaultJobOptions: definition.defaultJobOptions,
  });
  queue.on("error", () => {}); // surfaced by the add() that failed
  return {
    definition,
    queue,
    async add(name, payload, options) {
      const job = definition.jobs[name];
      if (!job) throw new Error(`queue ${definition.name} has no job named ${String(name)}`);
      assertMatches(job.payload, payload, `payload for ${definition.name}/${name}`);
      const added = await queue.add(name, payload, { ...job.options, ...options });
      return { id: String(added.id) };
    },
    close: () => closeSettled(queue),
  };
}

/**
 * Closes a BullMQ Queue, FlowProducer or Worker once its connection has finished starting (at most
 * `waitMs`). BullMQ 5.81 asks Redis for its version (INFO) as the connection becomes ready; closed
 * in that instant, the INFO fails on the ended stream and BullMQ emits the failure as an `error` on a
 * connection whose listeners its close removed: unhandled, the process exits 1 (a service stopped
 * right after it started; 178 of 600 producers closed 0–6 ms after being made, and Workers alike).
 * Waiting for the start first leaves nothing in flight to fail. A Redis that does not answer
 * within `waitMs` never got as far as the INFO: closing then is safe.
 */
export async function closeSettled(
  closable: { waitUntilReady(): Promise<unknown>; close(): Promise<void> },
  waitMs = 2_000,
): Promise<void> {
  await started(closable, waitMs);
  await closable.close();
}

/** Resolves once `of`'s connection has finished starting, or failed to, or after `waitMs`. */
export async function started(of: { waitUntilReady(): Promise<unknown> }, waitMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    of.waitUntilReady().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    }),
  ]);
  clearTimeout(timer);
}

/** What `addUnlessPending` did: added this job, or found one with the same key still to run. */
export type AddedOrPending =
  | { id: string; existing: false }
  | { id: string; existing: true; state: JobState | "unknown" };

/**
 * Adds a job unless one added under the same `deduplicationId` is still waiting, delayed or
 * running: then that job's id and state, nothing added (two callers at once are told apart by
 * BullMQ's deduplication, atomic in Redis). A key left naming a job that is over or gone (removed
 * by hand, lost with Redis's data) is dropped and the job added.
 */
export async function addUnlessPending<Q extends QueueDefinition, J extends JobName<Q>>(
  producer: Producer<Q>,
  name: J,
  payload: PayloadOf<Q, J>,
  options: { jobId: () => string; deduplicationId: string },
): Promise<AddedOrPending> {
  const deduplication = { id: options.deduplicationId };
  for (let attempt = 0; ; attempt++) {
    const jobId = options.jobId();
    const added = await producer.add(name, payload, { jobId, deduplication });
    if (added.id === jobId) return { id: jobId, existing: false };
    const job = await producer.queue.getJob(added.id);
    const state = job ? await job.getState() : "unknown";
    if (state !== "completed" && state !== "failed" && state !== "unknown")
      return { id: added.id, existing: true, state };
    if (attempt > 0)
      throw new Error(
        `cannot queue ${String(name)}: ${deduplication.id} keeps naming a job that is not pending`,
      );
    await producer.queue.removeDeduplicationKey(deduplication.id);
  }
}
