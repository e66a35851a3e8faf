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
    close: () => queue.close(),
  };
}
