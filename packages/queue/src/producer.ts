import type { JobName, PayloadOf, QueueDefinition } from "@finanzas/contracts";
import { type JobsOptions, Queue } from "bullmq";
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
