import type { Static, TSchema } from "@sinclair/typebox";

/** Job options a definition may set; a subset of BullMQ's, so contracts stay free of BullMQ. */
export interface JobOptions {
  attempts?: number;
  backoff?: { type: "fixed" | "exponential"; delay: number };
  /** Keep this many completed jobs, or those younger than `age` seconds. */
  removeOnComplete?: boolean | number | KeepJobs;
  /** Failed jobs stay visible; keep this many, or those younger than `age` seconds. */
  removeOnFail?: boolean | number | KeepJobs;
  priority?: number;
}

export type KeepJobs = { age: number; count?: number } | { age?: number; count: number };

export interface JobDefinition<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  description: string;
  payload: P;
  result: R;
  options?: JobOptions;
}

export interface QueueDefinition<
  Name extends string = string,
  Jobs extends Record<string, JobDefinition> = Record<string, JobDefinition>,
> {
  /** Persisted identifier: never rename in place. */
  name: Name;
  /** Job names are persisted identifiers too; a breaking payload change is a new job name. */
  jobs: Jobs;
  defaultJobOptions: JobOptions;
}

export type JobName<Q extends QueueDefinition> = Extract<keyof Q["jobs"], string>;
export type PayloadOf<Q extends QueueDefinition, J extends JobName<Q>> = Static<Q["jobs"][J]["payload"]>;
export type ResultOf<Q extends QueueDefinition, J extends JobName<Q>> = Static<Q["jobs"][J]["result"]>;

export function defineJob<P extends TSchema, R extends TSchema>(
  job: JobDefinition<P, R>,
): JobDefinition<P, R> {
  return job;
}

/** Defaults for every queue: retries with backoff, completed jobs trimmed, failed jobs kept visible. */
export const DEFAULT_JOB_OPTIONS: JobOptions = {
  attempts: 3,
  backoff: { type: "exponential", delay: 5_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

export function defineQueue<
  const Name extends string,
  const Jobs extends Record<string, JobDefinition>,
>(queue: { name: Name; jobs: Jobs; defaultJobOptions?: JobOptions }): QueueDefinition<Name, Jobs> {
  return { ...queue, defaultJobOptions: { ...DEFAULT_JOB_OPTIONS, ...queue.defaultJobOptions } };
}
