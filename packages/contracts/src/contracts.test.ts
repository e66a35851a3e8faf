import { describe, expect, it } from "vitest";
import { DEFAULT_JOB_OPTIONS, queues } from "./index.js";

describe("queue definitions", () => {
  it("name each queue once, after the key it is exported under", () => {
    for (const [key, queue] of Object.entries(queues)) expect(queue.name).toBe(key);
    expect(new Set(Object.values(queues).map((q) => q.name)).size).toBe(3);
  });

  it("keep failed jobs visible and retry with backoff by default", () => {
    for (const queue of Object.values(queues)) {
      expect(queue.defaultJobOptions.removeOnFail).not.toBe(true);
      expect(queue.defaultJobOptions.attempts).toBeGreaterThan(1);
      expect(queue.defaultJobOptions.backoff?.type).toBe("exponential");
    }
    expect(queues.etl.defaultJobOptions.backoff?.delay).toBeGreaterThan(
      DEFAULT_JOB_OPTIONS.backoff?.delay ?? 0,
    );
  });
});
