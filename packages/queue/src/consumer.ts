import { setMaxListeners } from "node:events";
import type { JobName, PayloadOf, QueueDefinition, ResultOf } from "@finanzas/contracts";
import type { Logger } from "@finanzas/logger";
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import { type QueueConnection, started } from "./producer.js";
import { redisOptions } from "./redis.js";
import { assertMatches, PayloadError } from "./validate.js";

export interface JobContext {
  jobId: string;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  logger: Logger;
  /** How many runs the job may have in all (its `attempts` option): the last one is `attempt === maxAttempts`. */
  maxAttempts: number;
  /** Aborted when the service must stop before the job ends; long jobs check it between steps. */
  signal: AbortSignal;
  /**
   * Aborted as soon as the service begins to stop (before `signal`, which comes at the shutdown
   * deadline): a job made of independent steps (a batch) starts no new step, finishes the ones
   * under way and throws RunLater, so what is left of it runs again on another worker.
   */
  stopping: AbortSignal;
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
  /**
   * How long a job's lock lasts without renewal (BullMQ renews it every half): a job whose worker
   * died is taken up again within about twice this. Default BullMQ's 30 s.
   */
  lockDurationMs?: number | undefined;
  /**
   * At most `max` jobs started per `durationMs` on this queue, across every worker of every replica
   * (BullMQ's queue-global limiter, kept in Redis). Every worker of the queue should set the same.
   */
  limiter?: { max: number; durationMs: number };
}

/**
 * Thrown by a handler when the service it talks to asked to slow down (an SMTP 421): the whole
 * queue, on every replica, starts no job for `ms`, and this job goes back to wait without using
 * an attempt.
 */
export class QueuePaused extends Error {
  constructor(
    readonly ms: number,
    reason: string,
  ) {
    super(`queue paused for ${ms} ms: ${reason}`);
    this.name = "QueuePaused";
  }
}

/**
 * Thrown by a handler whose job cannot run yet (what it needs is not ready): the job runs again
 * after `ms`, without using an attempt.
 */
export class RunLater extends Error {
  constructor(
    readonly ms: number,
    reason: string,
  ) {
    super(`run again in ${ms} ms: ${reason}`);
    this.name = "RunLater";
  }
}

/** How a job's run in this process ended, for metrics. */
export interface JobEnd {
  queue: string;
  job: string;
  /** `returned`: put back in the queue at shutdown (or refused while closing) for another run. */
  outcome: "completed" | "failed" | "returned";
  seconds: number;
}

export interface Consumer {
  readonly worker: Worker;
  /** Jobs running right now in this process. */
  readonly active: number;
  /** Calls `listener` as each job's run ends (a throwing listener is logged, never fails the job). */
  observe(listener: (end: JobEnd) => void): void;
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
    {
      job: Job;
      token: string | undefined;
      abort: AbortController;
      done: Promise<unknown>;
      /** Set when close() has put the job back in the queue: its outcome is no longer ours to record. */
      returned: boolean;
    }
  >();
  const log = options.logger.child({ queue: definition.name });
  let closing = false;
  const stopping = new AbortController();
  // every running job may wait on it, several times over (a batch's messages): no listener limit
  setMaxListeners(0, stopping.signal);
  const listeners: ((end: JobEnd) => void)[] = [];
  const ended = (job: Job, outcome: JobEnd["outcome"], startedAt: number) => {
    const end: JobEnd = {
      queue: definition.name,
      job: job.name,
      outcome,
      seconds: (Date.now() - startedAt) / 1000,
    };
    for (const listener of listeners) {
      try {
        listener(end);
      } catch (error) {
        log.warn({ err: error }, "a job listener threw");
      }
    }
  };
  // Jobs the worker had already taken from Redis when close() began, handed back before they ran.
  const handedBack: Promise<string | undefined>[] = [];

  const processor = async (job: Job, token?: string) => {
    if (closing) {
      // Fetched in the instant before the pause: it must not start now that the service is stopping.
      const back = job.moveToWait(token).then(
        () => String(job.id),
        (error: unknown) => {
          log.warn(
            { jobId: job.id, err: error },
            "could not return a job taken while closing; it will be retried when its lock expires",
          );
          return undefined;
        },
      );
      handedBack.push(back);
      if ((await back) !== undefined) ended(job, "returned", Date.now());
      throw new WaitingError(); // BullMQ: the job was moved by its processor, record nothing
    }
    const jobLog = log.child({ job: job.name, jobId: job.id, attempt: job.attemptsMade + 1 });
    const contract = definition.jobs[job.name];
    if (!contract) {
      ended(job, "failed", Date.now());
      throw new UnrecoverableError(`queue ${definition.name} has no job named ${job.name}`);
    }
    try {
      assertMatches(contract.payload, job.data, `payload for ${definition.name}/${job.name}`);
    } catch (error) {
      ended(job, "failed", Date.now());
      // A payload that does not match will never match: fail now, no retry, keep it visible.
      if (error instanceof PayloadError) throw new UnrecoverableError(error.message);
      throw error;
    }
    const handler = (handlers as unknown as Record<string, Handler<Q, JobName<Q>>>)[job.name]!;
    const abort = new AbortController();
    const ctx: JobContext = {
      jobId: String(job.id),
      attempt: job.attemptsMade + 1,
      maxAttempts: job.opts.attempts ?? 1,
      logger: jobLog,
      signal: abort.signal,
      stopping: stopping.signal,
      progress: (value) => job.updateProgress(value),
    };
    const started = Date.now();
    jobLog.info("job started");
    const done = handler(job.data, ctx);
    const entry = { job, token, abort, done, returned: false };
    running.set(String(job.id), entry);
    try {
      const result = await done;
      if (entry.returned) throw new WaitingError();
      assertMatches(contract.result, result, `result of ${definition.name}/${job.name}`);
      jobLog.info({ ms: Date.now() - started }, "job completed");
      ended(job, "completed", started);
      return result;
    } catch (error) {
      if (entry.returned) {
        jobLog.info({ ms: Date.now() - started }, "job returned to the queue");
        ended(job, "returned", started);
        throw error instanceof WaitingError ? error : new WaitingError();
      }
      if (error instanceof QueuePaused) {
        jobLog.warn({ ms: Date.now() - started, pauseMs: error.ms }, error.message);
        ended(job, "returned", started);
        await worker.rateLimit(error.ms);
        throw Worker.RateLimitError();
      }
      if (error instanceof RunLater) {
        jobLog.info({ ms: Date.now() - started, delayMs: error.ms }, error.message);
        ended(job, "returned", started);
        await job.moveToDelayed(Date.now() + error.ms, token);
        throw new DelayedError();
      }
      jobLog.error({ err: error, ms: Date.now() - started }, "job failed");
      ended(job, "failed", started);
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
    ...(options.lockDurationMs === undefined
      ? {}
      : { lockDuration: options.lockDurationMs, stalledInterval: options.lockDurationMs }),
    ...(options.limiter
      ? { limiter: { max: options.limiter.max, duration: options.limiter.durationMs } }
      : {}),
  });
  worker.on("error", (error) => log.error({ err: error }, "queue worker error"));

  return {
    worker,
    get active() {
      return running.size;
    },
    observe(listener) {
      listeners.push(listener);
    },
    async close(timeoutMs) {
      closing = true;
      stopping.abort(new Error("service stopping"));
      await started(worker); // closed while starting, BullMQ leaves an unhandled error (closeSettled)
      await worker.pause(true); // take no new jobs; running ones go on
      const deadline = new Promise<"timeout">((resolve) => setTimeout(resolve, timeoutMs, "timeout").unref());
      const allDone = Promise.allSettled([...running.values()].map((r) => r.done)).then(
        () => "done" as const,
      );
      const returned: string[] = [];
      if ((await Promise.race([allDone, deadline])) === "timeout") {
        for (const [id, entry] of running) {
          const { job, token, abort } = entry;
          abort.abort(new Error("service shutting down"));
          try {
            entry.returned = true;
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
      for (const id of await Promise.all(handedBack)) if (id !== undefined) returned.push(id);
      return { returned };
    },
  };
}
