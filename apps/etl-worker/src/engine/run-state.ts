import type { RunProgress } from "@finanzas/contracts";
import { currencyDecimals, type Source } from "../odoo/source.js";
import type { JobRun } from "./types.js";

/** What the models of a run share: its id and job, its published progress, the currencies' decimals. */
export class RunState {
  readonly progress: RunProgress;
  private lastPublished = 0;
  private decimals: Promise<Map<number, number>> | undefined;
  constructor(
    readonly runId: number,
    readonly job: JobRun,
    models: readonly string[],
  ) {
    this.progress = {
      runId,
      phase: "queued",
      models: Object.fromEntries(
        models.map((m) => [m, { status: "queued" as const, fetched: 0, upserted: 0, deleted: 0 }]),
      ),
    };
  }
  currencyDecimals(source: Source): Promise<Map<number, number>> {
    this.decimals ??= currencyDecimals(source).catch((error: unknown) => {
      this.decimals = undefined;
      throw error;
    });
    return this.decimals;
  }
  update(model: string, patch: Partial<RunProgress["models"][string]>, force = false): void {
    const entry = this.progress.models[model];
    if (entry) {
      Object.assign(entry, patch);
      // Records done over records expected: never above it (records created during the pass).
      if (entry.done !== undefined && entry.expected !== undefined && entry.done > entry.expected)
        entry.done = entry.expected;
    }
    const now = Date.now();
    if (force || now - this.lastPublished > 500) {
      this.lastPublished = now;
      this.job.progress(structuredClone(this.progress)).catch(() => {});
    }
  }
}
