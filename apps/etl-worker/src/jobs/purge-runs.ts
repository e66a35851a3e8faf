import type { etlQueue } from "@finanzas/contracts";
import { type Database, type Kysely, purgeEtlRuns } from "@finanzas/db";
import type { Handler } from "@finanzas/queue";

/**
 * `purge-runs`: the run history past ETL_RUN_RETENTION_DAYS goes, in batches (what is kept however
 * old: packages/db/src/retention.ts). The ETL's job: its database role is the one that may delete
 * from `etl`.
 */
export const purgeRunsHandler =
  (deps: { db: Kysely<Database>; retentionDays: number }): Handler<typeof etlQueue, "purge-runs"> =>
  async (_payload, ctx) => {
    const deleted = await purgeEtlRuns(deps.db, { retentionDays: deps.retentionDays });
    ctx.logger.info(
      { deleted, retentionDays: deps.retentionDays },
      "finished runs past their retention deleted",
    );
    return { deleted };
  };
