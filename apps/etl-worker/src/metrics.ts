import { ETL_JOB_NAMES, type EtlJobName, type FinishedRunStatus, type SyncMode } from "@finanzas/contracts";
import type { Database, Kysely } from "@finanzas/db";
import { MODEL_NAMES } from "@finanzas/ledger";
import type { Logger } from "@finanzas/logger";
import type { AdaptiveState } from "@finanzas/odoo";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** One model's work in a run, as it ended. */
export interface ModelEnd {
  model: string;
  job: EtlJobName;
  mode: SyncMode | null;
  status: FinishedRunStatus;
  fetched: number;
  upserted: number;
  deleted: number;
  seconds: number;
}

export interface EtlMetrics {
  modelEnded(end: ModelEnd): void;
}

/**
 * The ETL in Prometheus terms, on the worker's health port (`/metrics`):
 *
 * - per process (sum over replicas): model runs by job, mode and status; rows fetched, upserted
 *   and deleted; how long each model's work took;
 * - cluster-wide, read from `etl.cursors` at each scrape (every replica answers the same): when
 *   each model last synced successfully and the newest `write_date` it has, so an alert on
 *   `time() - etl_last_success_timestamp_seconds > 3600` catches a stalled sync
 *   whichever replica should have run it;
 * - given the adaptive concurrency (`odoo`): the limit on Odoo requests in flight now, the server's
 *   smoothed answer time and how much slower than usual it answers, and its refusals.
 */
export function createEtlMetrics(
  registry: Registry,
  db: Kysely<Database>,
  logger: Logger,
  odoo?: { state(): AdaptiveState },
): EtlMetrics {
  if (odoo) {
    const gauge = (name: string, help: string, value: (s: AdaptiveState) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(value(odoo.state()));
        },
      });
    gauge(
      "etl_odoo_concurrency_limit",
      "Odoo requests this process keeps in flight at most, now (adaptive)",
      (s) => s.limit,
    );
    gauge("etl_odoo_concurrency_max", "ODOO_MAX_CONCURRENCY: the most the limit rises to", (s) => s.max);
    gauge("etl_odoo_answer_seconds", "The Odoo server's answer time, smoothed", (s) => s.answerMs / 1000);
    gauge(
      "etl_odoo_slowness_ratio",
      "How much slower than usual Odoo answers (1 = as usual), smoothed",
      (s) => s.slowness,
    );
    gauge(
      "etl_odoo_refusals",
      "Requests Odoo refused (429, 503, connections refused or reset) since start",
      (s) => s.refusals,
    );
  }
  const runs = new Counter({
    name: "etl_model_runs_total",
    help: `Models' work in ETL runs of this process, by job (${ETL_JOB_NAMES.join(", ")}), mode and status`,
    labelNames: ["model", "job", "mode", "status"] as const,
    registers: [registry],
  });
  const rows = new Counter({
    name: "etl_rows_total",
    help: "Records fetched from Odoo, upserted into PostgreSQL, and marked deleted, by this process",
    labelNames: ["model", "kind"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "etl_model_duration_seconds",
    help: "How long one model's work in a run took (waiting for another run's lock included)",
    labelNames: ["model", "job", "mode"] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: "etl_last_success_timestamp_seconds",
    help: "When the model last synced successfully (any replica; from etl.cursors)",
    labelNames: ["model"] as const,
    registers: [registry],
    collect: () => readCursors(),
  });
  const cursor = new Gauge({
    name: "etl_cursor_timestamp_seconds",
    help: "The newest Odoo write_date the model's copy has (its incremental cursor; from etl.cursors)",
    labelNames: ["model"] as const,
    registers: [registry],
    collect: () => readCursors(),
  });
  // Both gauges come from one query per scrape, shared when Prometheus asks for both at once.
  let reading: Promise<void> | undefined;
  function readCursors(): Promise<void> {
    reading ??= (async () => {
      try {
        const rows = await db
          .selectFrom("etl.cursors")
          .select(["model", "last_success_at", "write_date"])
          .where("model", "in", MODEL_NAMES)
          .execute();
        lastSuccess.reset();
        cursor.reset();
        for (const row of rows) {
          if (row.last_success_at) lastSuccess.set({ model: row.model }, seconds(row.last_success_at));
          if (row.write_date) cursor.set({ model: row.model }, seconds(row.write_date));
        }
      } catch (error) {
        // A scrape without these series (absent()) rather than a failed scrape of every metric.
        lastSuccess.reset();
        cursor.reset();
        logger.warn({ err: error }, "metrics: cannot read etl.cursors");
      }
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  }

  return {
    modelEnded(end) {
      const mode = end.mode ?? "";
      runs.inc({ model: end.model, job: end.job, mode, status: end.status });
      rows.inc({ model: end.model, kind: "fetched" }, end.fetched);
      rows.inc({ model: end.model, kind: "upserted" }, end.upserted);
      rows.inc({ model: end.model, kind: "deleted" }, end.deleted);
      duration.observe({ model: end.model, job: end.job, mode }, end.seconds);
    },
  };
}

const seconds = (value: Date | string) => new Date(value).getTime() / 1000;
