/**
 * Each workbook is built on a worker thread of its own (build-thread.ts) with a bounded heap.
 *
 * Why: a big report turns millions of rows into garbage (row objects from pg, cell text), and some
 * of it lives long enough to reach V8's old space. In the service's own heap (~25 MB live: every
 * module, BullMQ, the AWS SDK) V8 lets old space grow to about four times the live set before it
 * collects, so a general ledger of 1 000 000 items took the process from 115 MB to 230 MB, up and
 * down. A thread's heap holds only the build; with a limit at or under 256 MB V8 grows it by 1.3×
 * its live set instead, so the build's memory stays within a few tens of MB whatever the size of
 * the report, and a build that would pass the limit ends its thread (the job fails and is retried)
 * rather than the process. Builds of a worker with REPORT_CONCURRENCY > 1 also run on separate
 * cores. The main thread keeps the job's bookkeeping: progress, the record, cancellation.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { BuiltWorkbook, WorkbookJob } from "./build-workbook.js";

/** What a build thread starts with. */
export interface BuildThreadData {
  databaseUrl: string;
  job: WorkbookJob;
  /** Rows written are posted at most this often (ms). */
  progressEveryMs: number;
}

export type BuildThreadMessage =
  | { type: "progress"; rows: number }
  | ({ type: "done" } & BuiltWorkbook)
  | { type: "error"; name: string; message: string; permanent: boolean };

/**
 * V8 heap limits of a build thread (MB). Old space: a report's live set is a batch of rows, the
 * sheet chunk being written and, for the aged balance, its per-partner totals (a few MB); 256 MB
 * is far above it and is the largest limit at which V8 still grows the heap conservatively.
 * Young generation: 16 MB (V8's default is 48) keeps the build's rows/s (bench/reports/run.ts).
 */
export const BUILD_THREAD_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 16 } as const;

/** An error raised on the build thread, with its name and whether another attempt could help. */
export class BuildThreadError extends Error {
  constructor(
    name: string,
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * The thread's entry: the built `build-thread.js` next to this file, or, when this runs from the
 * TypeScript sources (tests), the built one in `dist/jobs/` (tests run after the build).
 */
const entry = (): string => {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith(".ts")
    ? fileURLToPath(new URL("../../dist/jobs/build-thread.js", import.meta.url))
    : fileURLToPath(new URL("./build-thread.js", import.meta.url));
};

/**
 * Builds `data.job`'s workbook on a new thread. `progress` gets the rows written so far (one call
 * at a time, the latest count); when it throws, or `signal` aborts, the thread is terminated and
 * the build rejects with that error or the signal's reason. Resolves once the file is complete
 * and the last progress call has returned.
 */
export function buildInThread(
  data: BuildThreadData,
  hooks: { signal: AbortSignal; progress(rows: number): Promise<void> },
): Promise<BuiltWorkbook> {
  const { signal } = hooks;
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error("shutting down"));
  // Its own options: not the parent's (a test runner's "source" condition would load TypeScript).
  const thread = new Worker(entry(), {
    workerData: data,
    execArgv: [],
    resourceLimits: BUILD_THREAD_LIMITS,
  });
  return new Promise<BuiltWorkbook>((resolve, reject) => {
    let settled = false;
    /** The workbook is complete (the thread then ends by itself). */
    let done = false;
    let rows = 0;
    let reported = 0;
    let reporting: Promise<void> | undefined;
    const settle = (error: unknown, built?: BuiltWorkbook) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (error !== undefined) {
        void thread.terminate();
        reject(error);
        return;
      }
      resolve(built!);
    };
    const onAbort = () => settle(signal.reason ?? new Error("shutting down"));
    signal.addEventListener("abort", onAbort, { once: true });
    // One progress call at a time, each with the latest count: a slow database never queues them.
    const report = () => {
      if (reporting || settled) return;
      reporting = (async () => {
        try {
          while (reported < rows && !settled) {
            reported = rows;
            await hooks.progress(reported);
          }
        } catch (error) {
          settle(error);
        } finally {
          reporting = undefined;
        }
      })();
    };
    thread.on("message", (message: BuildThreadMessage) => {
      if (settled) return;
      if (message.type === "progress") {
        rows = message.rows;
        report();
      } else if (message.type === "done") {
        const { type: _, ...built } = message;
        done = true;
        // the record's last progress update lands before the caller marks it done
        void (reporting ?? Promise.resolve()).then(() => settle(undefined, built));
      } else {
        settle(new BuildThreadError(message.name, message.message, message.permanent));
      }
    });
    thread.on("error", (error) => settle(new Error(`the report's build thread failed: ${error.message}`)));
    thread.on("exit", (code) => {
      if (!done)
        settle(new Error(`the report's build thread exited (code ${code}) before its workbook was done`));
    });
  });
}
