import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { describe, expect, it } from "vitest";
import {
  DataChanged,
  DEFAULT_JOB_OPTIONS,
  ETL_JOB_NAMES,
  ModelOutcome,
  queues,
  RUN_STATUSES,
  RunStatus,
  SYNC_MODES,
  SyncMode,
  SyncRunMode,
  SyncRunStatus,
  SyncRunSummary,
} from "./index.js";

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

describe("etl job names, run statuses and sync modes", () => {
  const accepts = (schema: TSchema, value: unknown) => Value.Check(schema, value);

  it("are what every etl schema accepts, and nothing else", () => {
    // Persisted identifiers (queued jobs, etl.runs.job): fails when one is renamed in place.
    expect([...ETL_JOB_NAMES]).toEqual(["sync", "sync-records", "reconcile-deletions"]);
    for (const job of ETL_JOB_NAMES) expect(accepts(DataChanged.properties.job, job), job).toBe(true);
    expect(accepts(DataChanged.properties.job, "resync")).toBe(false);
    for (const schema of [RunStatus, SyncRunStatus, ModelOutcome.properties.status]) {
      for (const status of RUN_STATUSES) expect(accepts(schema, status), status).toBe(true);
      expect(accepts(schema, "cancelled")).toBe(false);
    }
    for (const schema of [SyncMode, SyncRunMode]) {
      for (const mode of SYNC_MODES) expect(accepts(schema, mode), mode).toBe(true);
      expect(accepts(schema, "sideways")).toBe(false);
    }
  });

  it("name the run history's job in the API's description of it", () => {
    expect(SyncRunSummary.properties.job.description).toBe("sync, sync-records or reconcile-deletions");
  });
});
