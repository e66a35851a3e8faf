import { type Static, Type } from "@sinclair/typebox";

/*
 * The ETL's public surface: payloads and results of the `etl` queue's jobs and the progress a running
 * job publishes (the "data changed" signal other services subscribe to is in data-changed.ts).
 */

/** An Odoo model name as the registry knows it (`account.move.line`); unknown names fail the job. */
export const OdooModelName = Type.String({ pattern: "^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$", maxLength: 64 });

export const SYNC_MODES = ["incremental", "full"] as const;
export const SyncMode = Type.Union(
  SYNC_MODES.map((mode) => Type.Literal(mode)),
  {
    description:
      "incremental (default): records written since the model's cursor minus ETL_OVERLAP_SECONDS; full: every record, then deletions are reconciled",
  },
);
export type SyncMode = (typeof SYNC_MODES)[number];

const requestedBy = Type.Optional(
  Type.String({
    maxLength: 200,
    description:
      "who asked (a user's email, 'scheduler', 'scheduler (at start)', 'cli'): shown in run history",
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

/**
 * The deduplication id of a `sync` job (BullMQ's `deduplication.id`): two syncs of the same mode
 * and set of models (none: every model) are the same work, so whoever enqueues one (the web-api on
 * request, the scheduler at start) joins an identical one still waiting or running instead.
 */
export const syncDeduplicationId = (mode: SyncMode, models: readonly string[] | undefined): string =>
  `api-sync:${mode}:${models?.length ? [...models].sort().join(",") : "*"}`;

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

/** `purge-runs`: delete the run history past its retention (ETL_RUN_RETENTION_DAYS of the etl-worker). */
export const PurgeRunsPayload = Type.Object({ requestedBy }, { additionalProperties: false });
export type PurgeRunsPayload = Static<typeof PurgeRunsPayload>;
export const PurgeRunsResult = Type.Object({ deleted: Type.Integer({ minimum: 0 }) });

/** Where a run, or one model of it, stands. Persisted in `etl.runs` and `etl.run_models`. */
export const RUN_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export const RunStatus = Type.Union(RUN_STATUSES.map((status) => Type.Literal(status)));
export type RunStatus = (typeof RUN_STATUSES)[number];
/** How a finished run, or one model of it, ended. */
export type FinishedRunStatus = Extract<RunStatus, "succeeded" | "failed">;

export const ModelOutcome = Type.Object({
  model: Type.String(),
  status: RunStatus,
  fetched: Type.Integer({ minimum: 0 }),
  upserted: Type.Integer({ minimum: 0 }),
  deleted: Type.Integer({ minimum: 0 }),
  /** Wanted fields this server does not have (reported, not fatal). */
  missingFields: Type.Array(Type.String()),
  /**
   * Records left out because PostgreSQL cannot store one of their values (a date that does not
   * exist, an integer out of range): listed in etl.rejected and read again by the next sync; the
   * rest of the model is written.
   */
  rejected: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The first of them: id, field and why. */
  rejectedRecords: Type.Optional(
    Type.Array(Type.Object({ id: Type.Integer(), field: Type.String(), reason: Type.String() })),
  ),
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
      /** Records read from Odoo (the overlap windows' re-reads counted again). */
      fetched: Type.Integer(),
      upserted: Type.Integer(),
      deleted: Type.Integer(),
      /**
       * Records of the model's main pass done, each counted once, and the records it has to read
       * (Odoo's count when it started): `done` never exceeds `expected`. Absent for work that cannot
       * count ahead (deletion checks, re-reads of some records).
       */
      done: Type.Optional(Type.Integer({ minimum: 0 })),
      expected: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
});
export type RunProgress = Static<typeof RunProgress>;

/** The PostgreSQL table a model is copied to: `account.move.line` → `odoo.account_move_line`. */
export const odooTableName = (model: string): string => `odoo.${model.replace(/\./g, "_")}`;
