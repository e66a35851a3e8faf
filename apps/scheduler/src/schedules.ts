import type { JobName, PayloadOf, QueueDefinition } from "@finanzas/contracts";
import type { Config } from "./config.js";

/** One recurring job: on `cron` (in `tz`), enqueue `job` with `payload` on `queue`. */
export interface Schedule<Q extends QueueDefinition = QueueDefinition, J extends JobName<Q> = JobName<Q>> {
  /** Stable id: the same id across restarts and replicas updates one scheduler instead of adding one. */
  id: string;
  queue: Q;
  job: J;
  payload: PayloadOf<Q, J>;
  cron: string;
  tz?: string;
}

export const schedule = <Q extends QueueDefinition, J extends JobName<Q>>(s: Schedule<Q, J>): Schedule =>
  s as unknown as Schedule;

/**
 * Every schedule of the system, from configuration. Each issue that adds a recurring job adds it
 * here (the ETL's incremental sync and deletion reconciliation, report and mailing runs).
 */
export function schedulesFrom(_config: Config): Schedule[] {
  return [];
}
