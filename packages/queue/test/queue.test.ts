import { defineJob, defineQueue } from "@finanzas/contracts";
import { deleteQueueKeys, TEST_REDIS_URL, testLogger, testQueuePrefix } from "@finanzas/testing";
import { Type } from "@sinclair/typebox";
import { Queue } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import {
  assertHandlers,
  assertRedisReachable,
  createConsumer,
  createFlowProducer,
  createProducer,
  type Handlers,
  type JobEnd,
  PayloadError,
  RunLater,
  redisOptions,
} from "../src/index.js";

const logger = testLogger("queue");
const prefix = testQueuePrefix("queue");
const connection = { redisUrl: TEST_REDIS_URL, prefix };

// A queue that exists only in this test: the real contracts carry no placeholder jobs.
const testQueue = defineQueue({
  name: "roundtrip",
  jobs: {
    double: defineJob({
      description: "doubles a number",
      payload: Type.Object(
        { n: Type.Integer({ minimum: 0 }), label: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
      result: Type.Object({ doubled: Type.Integer() }),
    }),
    sleep: defineJob({
      description: "waits, then returns",
      payload: Type.Object({ ms: Type.Integer() }),
      result: Type.Object({ slept: Type.Integer() }),
    }),
    steps: defineJob({
      description: "takes `steps` steps of 50 ms; a stopping service leaves the rest for the next run",
      payload: Type.Object({ key: Type.String(), steps: Type.Integer() }),
      result: Type.Object({ done: Type.Integer() }),
    }),
  },
  defaultJobOptions: { attempts: 3, backoff: { type: "fixed", delay: 10 } },
});

/** Steps done per key, across runs (what a batch's rows are to a send-batch job). */
const stepsDone: Record<string, number> = {};

const runs: Record<string, number> = {};
const handlers: Handlers<typeof testQueue> = {
  double: async ({ n }, ctx) => {
    runs[ctx.jobId] = (runs[ctx.jobId] ?? 0) + 1;
    return { doubled: n * 2 };
  },
  steps: async ({ key, steps }, ctx) => {
    while ((stepsDone[key] ?? 0) < steps) {
      if (ctx.stopping.aborted) throw new RunLater(0, "stopping: the steps left run again");
      await new Promise((r) => setTimeout(r, 50));
      stepsDone[key] = (stepsDone[key] ?? 0) + 1;
    }
    return { done: stepsDone[key] ?? 0 };
  },
  sleep: async ({ ms }, ctx) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return { slept: ms };
  },
};

afterAll(async () => {
  await deleteQueueKeys(prefix);
});

async function until(condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function waitForState(queue: Queue, id: string, states: string[], timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await queue.getJobState(id);
    if (states.includes(state)) return state;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${state}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("a queue round trip through real Redis", () => {
  it("delivers a valid payload to its handler and stores the validated result", async () => {
    const producer = createProducer(testQueue, connection);
    const consumer = createConsumer(testQueue, handlers, { ...connection, concurrency: 2, logger });
    const ends: JobEnd[] = [];
    consumer.observe((end) => ends.push(end));
    try {
      const { id } = await producer.add("double", { n: 21 });
      await waitForState(producer.queue, id, ["completed"]);
      const job = await producer.queue.getJob(id);
      expect(job?.returnvalue).toEqual({ doubled: 42 });
      expect(runs[id]).toBe(1);
      expect(ends).toEqual([
        { queue: "roundtrip", job: "double", outcome: "completed", seconds: expect.any(Number) },
      ]);
    } finally {
      await consumer.close(1_000);
      await producer.close();
    }
  });

  it("refuses a bad payload at enqueue, naming each bad field, and enqueues nothing", async () => {
    const producer = createProducer(testQueue, connection);
    try {
      const before = await producer.queue.count();
      const bad = { n: -1, label: 7, extra: true } as unknown as { n: number };
      const error = await producer.add("double", bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PayloadError);
      expect((error as PayloadError).message).toMatch(/payload for roundtrip\/double/);
      const paths = (error as PayloadError).problems.map((p) => p.path);
      expect(paths).toEqual(expect.arrayContaining(["/n", "/label", "/extra"]));
      expect(await producer.queue.count()).toBe(before);
    } finally {
      await producer.close();
    }
  });

  it("fails a bad payload at dequeue without retrying it, and keeps it visible", async () => {
    // An old or foreign producer that skipped validation writes straight to the queue.
    const raw = new Queue(testQueue.name, { connection: redisOptions(TEST_REDIS_URL, "producer"), prefix });
    const consumer = createConsumer(testQueue, handlers, { ...connection, concurrency: 1, logger });
    const ends: JobEnd[] = [];
    consumer.observe((end) => ends.push(end));
    try {
      const job = await raw.add("double", { n: "twelve" }, { attempts: 5 });
      await waitForState(raw, job.id!, ["failed"]);
      const failed = await raw.getJob(job.id!);
      expect(failed?.failedReason).toMatch(/invalid payload for roundtrip\/double: \/n expected integer/);
      expect(failed?.attemptsMade).toBe(1);
      expect(runs[job.id!]).toBeUndefined();
      expect(await raw.getFailedCount()).toBeGreaterThanOrEqual(1);
      expect(ends.map((e) => e.outcome)).toEqual(["failed"]);
    } finally {
      await consumer.close(1_000);
      await raw.close();
    }
  });

  it("on close lets a short job finish, and returns a long one to the queue at the deadline", async () => {
    const producer = createProducer(testQueue, connection);
    const consumer = createConsumer(testQueue, handlers, { ...connection, concurrency: 2, logger });
    const ends: JobEnd[] = [];
    consumer.observe((end) => ends.push(end));
    try {
      const short = await producer.add("sleep", { ms: 400 });
      const long = await producer.add("sleep", { ms: 60_000 });
      // Both handlers running in this process (Redis says "active" a moment before the handler starts).
      await until(() => consumer.active === 2);
      const started = Date.now();
      const { returned } = await consumer.close(1_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(returned).toEqual([long.id]);
      expect(await producer.queue.getJobState(short.id)).toBe("completed");
      expect(await producer.queue.getJobState(long.id)).toBe("waiting");
      // What a metrics listener sees: the short one completed, the long one returned after ~1 s.
      expect(ends.map((e) => [e.job, e.outcome])).toEqual([
        ["sleep", "completed"],
        ["sleep", "returned"],
      ]);
      expect(ends[1]?.seconds).toBeGreaterThanOrEqual(1);
      // Another replica (or this one after a restart) picks the returned job up again.
      const replica = createConsumer(testQueue, handlers, { ...connection, concurrency: 1, logger });
      await waitForState(producer.queue, long.id, ["active"]);
      expect((await replica.close(0)).returned).toEqual([long.id]);
    } finally {
      await producer.close();
    }
  });

  it("hands back, unrun, a job the worker took from Redis just as close began", async () => {
    const producer = createProducer(testQueue, connection);
    await producer.queue.drain(); // the long job the previous test handed back
    const consumer = createConsumer(testQueue, handlers, { ...connection, concurrency: 1, logger });
    try {
      // BullMQ emits "active" once the job is taken from Redis and before its handler is called:
      // closing there is the moment a SIGTERM can land between the fetch and the start.
      const closed = new Promise<{ returned: string[] }>((resolve) => {
        consumer.worker.once("active", () => resolve(consumer.close(0)));
      });
      const { id } = await producer.add("double", { n: 5 });
      expect((await closed).returned).toEqual([id]);
      expect(runs[id]).toBeUndefined();
      expect(await producer.queue.getJobState(id)).toBe("waiting");
      // The next worker runs it exactly once.
      const replica = createConsumer(testQueue, handlers, { ...connection, concurrency: 1, logger });
      await waitForState(producer.queue, id, ["completed"]);
      await replica.close(1_000);
      expect(runs[id]).toBe(1);
      expect((await producer.queue.getJob(id))?.attemptsMade).toBe(1);
    } finally {
      await producer.close();
    }
  });
});

describe("a job made of steps when the service stops", () => {
  it("is told at once (ctx.stopping), finishes its step, and what is left runs again elsewhere", async () => {
    const producer = createProducer(testQueue, connection);
    await producer.queue.drain();
    const consumer = createConsumer(testQueue, handlers, { ...connection, concurrency: 1, logger });
    const ends: JobEnd[] = [];
    consumer.observe((end) => ends.push(end));
    try {
      const { id } = await producer.add("steps", { key: "a", steps: 40 });
      await until(() => (stepsDone.a ?? 0) >= 3);
      const started = Date.now();
      const { returned } = await consumer.close(30_000);
      // it did not run to the end (40 steps, 2 s) nor to the deadline (30 s)
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(stepsDone.a).toBeLessThan(40);
      expect(returned).toEqual([]);
      expect(ends.map((e) => [e.job, e.outcome])).toEqual([["steps", "returned"]]);
      expect(["delayed", "waiting"]).toContain(await producer.queue.getJobState(id));
      const replica = createConsumer(testQueue, handlers, { ...connection, concurrency: 1, logger });
      await waitForState(producer.queue, id, ["completed"]);
      await replica.close(1_000);
      expect(stepsDone.a).toBe(40);
      expect((await producer.queue.getJob(id))?.returnvalue).toEqual({ done: 40 });
      // a run handed back that way did not use an attempt
      expect((await producer.queue.getJob(id))?.attemptsMade).toBe(1);
    } finally {
      await producer.close();
    }
  });
});

describe("a service stopped as it starts", () => {
  // BullMQ asks Redis for its version as a connection becomes ready; closed in that instant, the
  // failure was thrown as an uncaught error on a connection without listeners: the process exited 1
  // instead of 0 (seen on a mailer stopped 30 ms after it was ready). Each round closes one of each
  // 0–6 ms after making it; without the wait for the start, about a third of the closes crashed.
  it("closes its producers, flow producers and consumers without an unhandled error", async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    try {
      for (let round = 0; round < 60; round++) {
        const producer = createProducer(testQueue, connection);
        const flows = createFlowProducer(connection);
        const consumer = createConsumer(testQueue, handlers, { ...connection, concurrency: 1, logger });
        await new Promise((resolve) => setTimeout(resolve, round % 7));
        await Promise.all([producer.close(), flows.close(), consumer.close(100)]);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onUncaught);
    }
    expect(uncaught.map((e) => (e instanceof Error ? e.message : String(e)))).toEqual([]);
  }, 60_000);
});

describe("handler maps", () => {
  it("are checked at boot: a missing or unknown handler is refused with its name", () => {
    expect(() => assertHandlers(testQueue, { double: handlers.double })).toThrow(/missing sleep, steps/);
    expect(() => assertHandlers(testQueue, { ...handlers, triple: handlers.double })).toThrow(
      /unknown triple/,
    );
  });
});

describe("assertRedisReachable", () => {
  it("fails fast with the URL and the fix when nothing listens", async () => {
    const started = Date.now();
    await expect(assertRedisReachable("redis://127.0.0.1:1")).rejects.toThrow(
      "cannot reach Redis at redis://127.0.0.1:1 (ECONNREFUSED): start Redis or set REDIS_URL",
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
