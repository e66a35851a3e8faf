import type { JobName, PayloadOf, QueueDefinition } from "@finanzas/contracts";
import { FlowProducer as BullFlowProducer, type FlowJob } from "bullmq";
import { closeSettled, type QueueConnection } from "./producer.js";
import { redisOptions } from "./redis.js";
import { assertMatches } from "./validate.js";

/** A job that must finish before its parent runs (e.g. the report a message attaches). */
export interface FlowChild<Q extends QueueDefinition = QueueDefinition> {
  definition: Q;
  name: JobName<Q>;
  payload: PayloadOf<Q, JobName<Q>>;
  jobId: string;
}

export interface FlowProducer {
  /**
   * Enqueues `name` on `definition`'s queue to run once every child has ended (a child that fails
   * for good does not block it: the parent runs and decides). Payloads validated like `add`'s.
   */
  add<Q extends QueueDefinition, J extends JobName<Q>>(
    definition: Q,
    name: J,
    payload: PayloadOf<Q, J>,
    options: { jobId: string; attempts?: number; backoff?: { type: "fixed" | "exponential"; delay: number } },
    children: FlowChild[],
  ): Promise<void>;
  close(): Promise<void>;
}

/** BullMQ flows over contract queues: a parent job waits for its children, across queues. */
export function createFlowProducer(connection: QueueConnection): FlowProducer {
  const flows = new BullFlowProducer({
    connection: redisOptions(connection.redisUrl, "producer"),
    prefix: connection.prefix,
  });
  flows.on("error", () => {}); // surfaced by the add() that failed
  return {
    async add(definition, name, payload, options, children) {
      const job = definition.jobs[name];
      if (!job) throw new Error(`queue ${definition.name} has no job named ${String(name)}`);
      assertMatches(job.payload, payload, `payload for ${definition.name}/${name}`);
      const kids: FlowJob[] = children.map((child) => {
        const contract = child.definition.jobs[child.name];
        if (!contract) throw new Error(`queue ${child.definition.name} has no job named ${child.name}`);
        assertMatches(contract.payload, child.payload, `payload for ${child.definition.name}/${child.name}`);
        return {
          name: child.name,
          queueName: child.definition.name,
          data: child.payload,
          opts: {
            ...child.definition.defaultJobOptions,
            ...contract.options,
            jobId: child.jobId,
            ignoreDependencyOnFailure: true,
          },
        };
      });
      await flows.add({
        name,
        queueName: definition.name,
        data: payload,
        opts: { ...definition.defaultJobOptions, ...job.options, ...options },
        children: kids,
      });
    },
    close: () => closeSettled(flows),
  };
}
