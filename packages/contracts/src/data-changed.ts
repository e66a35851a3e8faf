import { type Static, Type } from "@sinclair/typebox";
import { ETL_JOB_NAMES } from "./queues.js";

/**
 * "Data changed": published by etl-worker on Redis pub/sub after a run committed changes to the
 * `odoo` schema (also after a run that failed part-way: what committed is announced). Subscribers
 * (the web-api's cache) drop what they hold for the listed models. At-most-once, like any pub/sub:
 * a subscriber that reconnects should treat the reconnect itself as "everything changed".
 */
export const DataChanged = Type.Object({
  /** `etl.runs.id` of the run. */
  runId: Type.Integer(),
  /** The job of the run. */
  job: Type.Union(ETL_JOB_NAMES.map((name) => Type.Literal(name))),
  /** Models whose rows changed (upserted or marked deleted), e.g. ["account.move", "account.move.line"]. */
  models: Type.Array(Type.String()),
  /** Their PostgreSQL tables, e.g. ["odoo.account_move", "odoo.account_move_line"]. */
  tables: Type.Array(Type.String()),
  /** Per model: rows upserted and rows marked deleted by this run. */
  counts: Type.Record(Type.String(), Type.Object({ upserted: Type.Integer(), deleted: Type.Integer() })),
  /** ISO 8601 time of the commit. */
  at: Type.String(),
});
export type DataChanged = Static<typeof DataChanged>;

/**
 * The Redis pub/sub channel of DataChanged messages (JSON text). Namespaced by QUEUE_PREFIX so that
 * environments sharing a Redis never hear each other: `${prefix}:etl:data-changed`.
 */
export const dataChangedChannel = (prefix: string): string => `${prefix}:etl:data-changed`;
