import { type Static, Type } from "@sinclair/typebox";
import { RunStatus, SYNC_MODES } from "./etl.js";
import { Cursor, DateTimeString, Limit, NullableString, Query } from "./http-common.js";
import { ETL_JOB_NAMES } from "./queues.js";

/* Sync control: the web-api enqueues ETL jobs through the contracts' queue definitions and reads the
 * ETL's run history; it never talks to Odoo. */

/** An Odoo model name, e.g. account.move. */
export const SyncModelName = Type.String({ pattern: "^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)+$", maxLength: 64 });

export const SyncRunMode = Type.Union(
  SYNC_MODES.map((mode) => Type.Literal(mode)),
  {
    description:
      "incremental (default): changes since the cursor; full: re-read everything, then reconcile deletions",
  },
);

export const SyncRunCreate = Type.Object(
  {
    models: Type.Optional(
      Type.Array(SyncModelName, {
        minItems: 1,
        maxItems: 50,
        uniqueItems: true,
        description: "Models to sync; default all registered models",
      }),
    ),
    mode: Type.Optional(SyncRunMode),
  },
  { additionalProperties: false },
);

/** A run's status, as the ETL records it. */
export const SyncRunStatus = RunStatus;

export const SyncRunAccepted = Type.Object({
  runId: Type.String({
    description: "Id of the run (its job id); GET /api/v1/sync/runs/{runId} shows its progress",
  }),
  status: SyncRunStatus,
  mode: SyncRunMode,
  models: Type.Array(Type.String(), { description: "The models asked for; empty = every registered model" }),
  existing: Type.Boolean({
    description:
      "true: an identical sync (same mode and models) was already queued or running, and this is that run; no new one was started",
  }),
});

export const SyncModelResult = Type.Object({
  model: Type.String(),
  status: Type.String(),
  fetched: Type.Integer(),
  upserted: Type.Integer(),
  deleted: Type.Integer(),
  error: NullableString,
  startedAt: Type.Union([DateTimeString, Type.Null()]),
  finishedAt: Type.Union([DateTimeString, Type.Null()]),
});

const runFields = {
  id: Type.String({
    description: "The run's job id (as returned by POST), or its run number for scheduled runs",
  }),
  runNumber: Type.Union([Type.Integer(), Type.Null()], {
    description: "etl.runs id of the latest attempt; null while queued",
  }),
  job: Type.String({
    description: `${ETL_JOB_NAMES.slice(0, -1).join(", ")} or ${ETL_JOB_NAMES.at(-1)}`,
  }),
  status: SyncRunStatus,
  mode: Type.String(),
  models: Type.Array(Type.String()),
  requestedBy: Type.Union([Type.String(), Type.Null()], {
    description:
      "Who asked: the user's email (POST), 'scheduler' (its cron), 'scheduler (at start)' (the sync it queues as it starts), 'cli' (pnpm etl:run)",
  }),
  fetched: Type.Integer(),
  upserted: Type.Integer(),
  deleted: Type.Integer(),
  createdAt: Type.Union([DateTimeString, Type.Null()]),
  startedAt: Type.Union([DateTimeString, Type.Null()]),
  finishedAt: Type.Union([DateTimeString, Type.Null()]),
  error: NullableString,
};

export const SyncRunSummary = Type.Object(runFields);

export const SyncRun = Type.Object({
  ...runFields,
  attempts: Type.Integer({ description: "Attempts so far (BullMQ retries a failed run)" }),
  progress: Type.Union([
    Type.Object(
      {},
      { additionalProperties: true, description: "Progress the worker last published, while it runs" },
    ),
    Type.Null(),
  ]),
  results: Type.Array(SyncModelResult),
});

export const SyncRunQuery = Query({
  status: Type.Optional(SyncRunStatus),
  limit: Type.Optional(Limit),
  cursor: Type.Optional(Cursor),
});
export const SyncRunPage = Type.Object(
  {
    items: Type.Array(SyncRunSummary),
    next: Type.Union([Cursor, Type.Null()]),
  },
  { title: "SyncRunPage" },
);
export const SyncRunParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_:-]+$" }) },
  { additionalProperties: false },
);

export const SyncModelState = Type.Object({
  model: Type.String(),
  cursor: Type.Union([
    Type.Object({
      writeDate: Type.Union([Type.String(), Type.Null()]),
      id: Type.Union([Type.Integer(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  lastSuccessAt: Type.Union([DateTimeString, Type.Null()]),
  rows: Type.Integer({
    description:
      "Rows in the synced table, soft-deleted excluded: PostgreSQL's estimate (as of the table's last ANALYZE, which a full sync ends with; exact for tables of up to 30 000 rows), not a count",
  }),
  lagSeconds: Type.Union([Type.Number(), Type.Null()], { description: "Seconds since the last success" }),
  absentAt: Type.Union([DateTimeString, Type.Null()], {
    description:
      "Set when the last sync found this optional model (account.partial.reconcile) missing on the Odoo server or unreadable by the sync user; aging and the dashboard then answer only for today and later",
  }),
});
export const SyncState = Type.Object({ models: Type.Array(SyncModelState) });

export const SyncRecordsBody = Type.Object(
  {
    model: SyncModelName,
    ids: Type.Array(Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), {
      minItems: 1,
      maxItems: 1000,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);
export const SyncRecordsAccepted = Type.Object({
  jobId: Type.String(),
  model: Type.String(),
  ids: Type.Integer(),
});

export type SyncRun = Static<typeof SyncRun>;
