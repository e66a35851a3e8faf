import { queues as allQueues, type QueueDefinition } from "@finanzas/contracts";
import type { Logger } from "@finanzas/logger";
import {
  addUnlessPending,
  assertMatches,
  createProducer,
  type Producer,
  type QueueConnection,
} from "@finanzas/queue";
import type { Schedule } from "./schedules.js";

export interface SchedulerDeps {
  connection: QueueConnection;
  logger: Logger;
  schedules: Schedule[];
  /** Queues whose schedulers this service owns (undeclared ones there are removed). */
  queues?: readonly QueueDefinition[];
}

export interface SchedulerResult {
  upserted: string[];
  removed: string[];
}

/**
 * Registers the declared schedules as BullMQ job schedulers and removes the ones no longer
 * declared. Upserts are idempotent, so any number of scheduler replicas and restarts converge on
 * exactly one scheduler per id, and a changed cron takes effect on restart. BullMQ then enqueues
 * each run itself, so a scheduler restart never loses or doubles a run.
 */
export async function syncSchedules(deps: SchedulerDeps): Promise<SchedulerResult> {
  const owned = deps.queues ?? Object.values(allQueues);
  const producers = new Map<string, Producer<QueueDefinition>>();
  const producerFor = (queue: QueueDefinition) => {
    let producer = producers.get(queue.name);
    if (!producer) {
      producer = createProducer(queue, deps.connection);
      producers.set(queue.name, producer);
    }
    return producer;
  };
  const result: SchedulerResult = { upserted: [], removed: [] };
  try {
    for (const s of deps.schedules) {
      const contract = s.queue.jobs[s.job];
      if (!contract) throw new Error(`schedule ${s.id}: queue ${s.queue.name} has no job ${s.job}`);
      assertMatches(contract.payload, s.payload, `payload of schedule ${s.id}`);
      await producerFor(s.queue).queue.upsertJobScheduler(
        s.id,
        { pattern: s.cron, ...(s.tz ? { tz: s.tz } : {}) },
        { name: s.job, data: s.payload, opts: { ...s.queue.defaultJobOptions, ...contract.options } },
      );
      result.upserted.push(s.id);
      deps.logger.info(
        { schedule: s.id, queue: s.queue.name, job: s.job, cron: s.cron },
        "schedule registered",
      );
    }
    for (const queue of owned) {
      const declared = new Set(deps.schedules.filter((s) => s.queue.name === queue.name).map((s) => s.id));
      const existing = await producerFor(queue).queue.getJobSchedulers(0, -1);
      for (const scheduler of existing) {
        const id = scheduler.id ?? scheduler.key;
        if (declared.has(id)) continue;
        await producerFor(queue).queue.removeJobScheduler(id);
        result.removed.push(id);
        deps.logger.info({ schedule: id, queue: queue.name }, "schedule removed: no longer declared");
      }
    }
  } finally {
    await Promise.all([...producers.values()].map((p) => p.close()));
  }
  return result;
}

/** One run of each schedule that asks for it at start, unless one is still waiting or running. */
async function runAtStart(
  deps: SchedulerDeps,
  producers: Map<string, Producer<QueueDefinition>>,
): Promise<void> {
  for (const s of deps.schedules) {
    if (!s.atStart) continue;
    const { payload, deduplicationId, jobId } = s.atStart;
    const added = await addUnlessPending(producers.get(s.queue.name)!, s.job, payload, {
      jobId,
      deduplicationId,
    });
    const fields = { schedule: s.id, queue: s.queue.name, job: s.job, jobId: added.id };
    if (added.existing)
      deps.logger.info({ ...fields, state: added.state }, "an identical job is pending: none added at start");
    else deps.logger.info(fields, "run once at start");
  }
}

export interface RunningScheduler {
  /** One check now: re-registers every declared schedule Redis no longer holds; their ids. */
  check(): Promise<string[]>;
  close(): Promise<{ returned: string[] }>;
}

/**
 * What the scheduler process runs: register schedules at start, then every `checkEveryMs` (and
 * as soon as Redis is back after a lost connection) look for declared schedules Redis no longer
 * holds (a restart without persistence, a FLUSHALL, a failover to an empty replica) and register
 * them again. A schedule still there is left alone, so its next run is neither moved nor doubled.
 */
export async function createScheduler(
  deps: SchedulerDeps & { checkEveryMs?: number },
): Promise<RunningScheduler> {
  const result = await syncSchedules(deps);
  deps.logger.info(
    { schedules: result.upserted.length, removed: result.removed.length },
    "schedules in place; BullMQ enqueues each run",
  );
  const producers = new Map<string, Producer<QueueDefinition>>();
  for (const s of deps.schedules) {
    if (!producers.has(s.queue.name)) producers.set(s.queue.name, createProducer(s.queue, deps.connection));
  }
  await runAtStart(deps, producers);
  let checking: Promise<string[]> | undefined;
  let failing = false;
  const checkOnce = async (): Promise<string[]> => {
    const missing: Schedule[] = [];
    for (const s of deps.schedules) {
      const queue = producers.get(s.queue.name)!.queue;
      if (!(await queue.getJobScheduler(s.id))) missing.push(s);
    }
    if (missing.length === 0) return [];
    const again = await syncSchedules({ ...deps, schedules: deps.schedules });
    deps.logger.warn(
      { schedules: missing.map((s) => s.id) },
      `${missing.length} schedule(s) were gone from Redis (restarted empty or flushed): registered again`,
    );
    return again.upserted.filter((id) => missing.some((s) => s.id === id));
  };
  const check = (): Promise<string[]> => {
    checking ??= checkOnce()
      .then((ids) => {
        if (failing) deps.logger.info("Redis answers again: schedules checked");
        failing = false;
        return ids;
      })
      .catch((error: unknown) => {
        if (!failing) deps.logger.warn({ err: error }, "cannot check the schedules in Redis: trying again");
        failing = true;
        return [];
      })
      .finally(() => {
        checking = undefined;
      });
    return checking;
  };
  const timer = setInterval(() => void check(), deps.checkEveryMs ?? 60_000);
  timer.unref();
  // A reconnect is when Redis may have come back empty: check at once rather than at the next tick.
  const onReady = () => void check();
  let connectedBefore = false;
  for (const producer of producers.values()) {
    const client = await producer.queue.client;
    client.on("ready", () => {
      if (connectedBefore) onReady();
    });
  }
  connectedBefore = true;
  return {
    check,
    close: async () => {
      clearInterval(timer);
      await checking;
      await Promise.all([...producers.values()].map((p) => p.close()));
      return { returned: [] };
    },
  };
}
