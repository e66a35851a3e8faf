import { type Static, Type } from "@sinclair/typebox";

/*
 * The ETL's public surface: payloads and results of the `etl` queue's jobs, the progress a running
 * job publishes, and the "data changed" signal other services subscribe to.
 */

/** An Odoo model name as the registry knows it (`account.move.line`); unknown names fail the job. */
export const OdooModelName = Type.String({ pattern: "^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$", maxLength: 64 });

export const SyncMode = Type.Union([Type.Literal("incremental"), Type.Literal("full")], {
  description:
    "incremental (default): records written since the model's cursor minus ETL_OVERLAP_SECONDS; full: every record, then deletions are reconciled",
});
export type SyncMode = Static<typeof SyncMode>;

const requestedBy = Type.Optional(
  Type.String({
    maxLength: 200,
    description: "who asked (user id, 'scheduler', 'cli'): shown in run history",
  }),
);

export const SyncPayload = Type.Object(
  {
    /** A subset of the registry; omitted = every registered model. */
    models: Type.Optional(Type.Array(OdooModelName, { minItems: 1, maxItems: 50, uniqueItems: true })),
    mode: Type.Optional(SyncMode),
    requestedBy,
  },
  { additionalProperties: false },
);
export type SyncPayload = Static<typeof SyncPayload>;

export const SyncRecordsPayload = Type.Object(
  {
    model: OdooModelName,
    /** Re-read these ids now and upsert them; ids gone from Odoo are marked deleted. */
    ids: Type.Array(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }), { minItems: 1, maxItems: 1000 }),
    requestedBy,
  },
  { additionalProperties: false },
);
export type SyncRecordsPayload = Static<typeof SyncRecordsPayload>;

export const ReconcileDeletionsPayload = Type.Object(
  {
    models: Type.Optional(Type.Array(OdooModelName, { minItems: 1, maxItems: 50, uniqueItems: true })),
    requestedBy,
  },
  { additionalProperties: false },
);
export type ReconcileDeletionsPayload = Static<typeof ReconcileDeletionsPayload>;

export const RunStatus = Type.Union([
  Type.Literal("queued"),
  Type.Literal("running"),
  Type.Literal("succeeded"),
  Type.Literal("failed"),
]);
export type RunStatus = Static<typeof RunStatus>;

export const ModelOutcome = Type.Object({
  model: Type.String(),
  status: RunStatus,
  fetched: Type.Integer({ minimum: 0 }),
  upserted: Type.Integer({ minimum: 0 }),
  deleted: Type.Integer({ minimum: 0 }),
  /** Wanted fields this server does not have (reported, not fatal). */
  missingFields: Type.Array(Type.String()),
  error: Type.Optional(Type.String()),
});
export type ModelOutcome = Static<typeof ModelOutcome>;

/** The result of every etl job: the run it recorded in `etl.runs` and what each model did. */
export const RunResult = Type.Object({
  runId: Type.Integer(),
  status: RunStatus,
  models: Type.Array(ModelOutcome),
  ms: Type.Integer({ minimum: 0 }),
});
export type RunResult = Static<typeof RunResult>;

/** What a running etl job publishes as BullMQ progress (the CLI shows it). */
export const RunProgress = Type.Object({
  runId: Type.Integer(),
  phase: Type.String(),
  models: Type.Record(
    Type.String(),
    Type.Object({
      status: RunStatus,
      fetched: Type.Integer(),
      upserted: Type.Integer(),
      deleted: Type.Integer(),
    }),
  ),
});
export type RunProgress = Static<typeof RunProgress>;

/**
 * "Data changed": published by etl-worker on Redis pub/sub after a run committed changes to the
 * `odoo` schema (also after a run that failed part-way: what committed is announced). Subscribers
 * (the web-api's cache) drop what they hold for the listed models. At-most-once, like any pub/sub:
 * a subscriber that reconnects should treat the reconnect itself as "everything changed".
 */
export const DataChanged = Type.Object({
  /** `etl.runs.id` of the run. */
  runId: Type.Integer(),
  job: Type.Union([Type.Literal("sync"), Type.Literal("sync-records"), Type.Literal("reconcile-deletions")]),
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

/** The PostgreSQL table a model is copied to: `account.move.line` → `odoo.account_move_line`. */
export const odooTableName = (model: string): string => `odoo.${model.replace(/\./g, "_")}`;
