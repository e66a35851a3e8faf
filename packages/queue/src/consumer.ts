import type { JobName, PayloadOf, QueueDefinition, ResultOf } from "@finanzas/contracts";
import type { Logger } from "@finanzas/logger";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { QueueConnection } from "./producer.js";
import { redisOptions } from "./redis.js";
import { assertMatches, PayloadError } from "./validate.js";

export interface JobContext {
  jobId: string;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  logger: Logger;
  /** Aborted when the service must stop before the job ends; long jobs check it between steps. */
  signal: AbortSignal;
  progress(value: number | object): Promise<void>;
}

export type Handler<Q extends QueueDefinition, J extends JobName<Q>> = (
  payload: PayloadOf<Q, J>,
  ctx: JobContext,
) => Promise<ResultOf<Q, J>>;

/** One handler per job of the queue: a missing or extra handler does not compile. */
export type Handlers<Q extends QueueDefinition> = { [J in JobName<Q>]: Handler<Q, J> };

/** The boot-time twin of the compile-time check, for handler maps built dynamically. */
export function assertHandlers(definition: QueueDefinition, handlers: Record<string, unknown>): void {
  const expected = Object.keys(definition.jobs).sort();
  const missing = expected.filter((name) => typeof handlers[name] !== "function");
  const unknown = Object.keys(handlers).filter((name) => !(name in definition.jobs));
  if (missing.length || unknown.length) {
    throw new Error(
      `handlers for queue ${definition.name} do not match its contract:` +
        (missing.length ? ` missing ${missing.join(", ")};` : "") +
        (unknown.length ? ` unknown ${unknown.join(", ")};` : ""),
    );
  }
}

export interface ConsumerOptions extends QueueConnection {
  concurrency: number;
  logger: Logger;
}

export interface Consumer {
  readonly worker: Worker;
  /** Jobs running right now in this process. */
  readonly active: number;
  /**
   * Stops taking jobs, lets running ones finish for up to `timeoutMs`, then aborts the rest, puts
   * them back in the queue for another worker (or this one after a restart), and closes.
   */
  close(timeoutMs: number): Promise<{ returned: string[] }>;
}

export function createConsumer<Q extends QueueDefinition>(
  definition: Q,
  handlers: Handlers<Q>,
  options: ConsumerOptions,
): Consumer {
  assertHandlers(definition, handlers as Record<string, unknown>);
  const running = new Map<
    string,
    { job: Job; token: string | undefined; abort: AbortController; done: Promise<unknown> }
  >();
  const log = options.logger.child({ queue: definition.name });

  const processor = async (job: Job, token?: string) => {
    const jobLog = log.child({ job: job.name, jobId: job.id, attempt: job.attemptsMade + 1 });
    const contract = definition.jobs[job.name];
    if (!contract) throw new UnrecoverableError(`queue ${definition.name} has no job named ${job.name}`);
    try {
      assertMatches(contract.payload, job.data, `payload for ${definition.name}/${job.name}`);
    } catch (error) {
      // A payload that does not match will never match: fail now, no retry, keep it visible.
      if (error instanceof PayloadError) throw new UnrecoverableError(error.message);
      throw error;
    }
    const handler = (handlers as unknown as Record<string, Handler<Q, JobName<Q>>>)[job.name]!;
    const abort = new AbortController();
    const ctx: JobContext = {
      jobId: String(job.id),
      attempt: job.attemptsMade + 1,
      logger: jobLog,
      signal: abort.signal,
      progress: (value) => job.updateProgress(value),
    };
    const started = Date.now();
    jobLog.info("job started");
    const done = handler(job.data, ctx);
    running.set(String(job.id), { job, token, abort, done });
    try {
      const result = await done;
      assertMatches(contract.result, result, `result of ${definition.name}/${job.name}`);
      jobLog.info({ ms: Date.now() - started }, "job completed");
      return result;
    } catch (error) {
      jobLog.error({ err: error, ms: Date.now() - started }, "job failed");
      if (error instanceof PayloadError) throw new UnrecoverableError(error.message);
      throw error;
    } finally {
      running.delete(String(job.id));
    }
  };

  const worker = new Worker(definition.name, processor, {
    connection: redisOptions(options.redisUrl, "worker"),
    prefix: options.prefix,
    concurrency: options.concurrency,
    autorun: true,
  });
  worker.on("error", (error) => log.error({ err: error }, "queue worker error"));

  return {
    worker,
    get active() {
      return running.size;
    },
    async close(timeoutMs) {
      await worker.pause(true); // take no new jobs; running ones go on
      const deadline = new Promise<"timeout">((resolve) => setTimeout(resolve, timeoutMs, "timeout").unref());
      const allDone = Promise.allSettled([...running.values()].map((r) => r.done)).then(
        () => "done" as const,
      );
      const returned: string[] = [];
      if ((await Promise.race([allDone, deadline])) === "timeout") {
        for (const [id, { job, token, abort }] of running) {
          abort.abort(new Error("service shutting down"));
          try {
            await job.moveToWait(token);
            returned.push(id);
          } catch (error) {
            log.warn(
              { jobId: id, err: error },
              "could not return a running job to the queue; it will be retried when its lock expires",
            );
          }
        }
        log.warn(
          { returned },
          `shutdown deadline of ${timeoutMs} ms reached: running jobs returned to the queue`,
        );
      }
      await worker.close(returned.length > 0);
      return { returned };
    },
  };
}
