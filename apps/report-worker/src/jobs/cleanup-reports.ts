import type { reportsQueue } from "@finanzas/contracts";
import { type Database, type Kysely, purgeMailings, purgeRefreshTokens, sql } from "@finanzas/db";
import { deleteQueuedFiles, queueUnusedFiles } from "@finanzas/ledger";
import type { Handler } from "@finanzas/queue";
import type { Storage } from "@finanzas/storage";

/** Report records deleted per statement: short statements, no lock held across batches. */
const BATCH = 500;
/** Queued files deleted from the store per run (the rest wait for the next run). */
const FILES_PER_RUN = 5_000;

export interface CleanupDeps {
  db: Kysely<Database>;
  storage: Storage;
  ttlHours: number;
  /**
   * Refresh tokens expired or revoked longer ago than this many days go too
   * (REFRESH_TOKEN_RETENTION_DAYS); omitted: none.
   */
  refreshTokenRetentionDays?: number | undefined;
  /** Mailings finished longer ago than this many days go, with their outbox (MAIL_RETENTION_DAYS); omitted: none. */
  mailRetentionDays?: number | undefined;
}

/**
 * `cleanup-reports`: deletes the records of reports past their expiry (finished ones after
 * REPORT_TTL_HOURS; failed and cancelled ones as long after they ended), in batches, and each
 * stored file once no record points at it any more (a reused report shares its file): queued in the
 * records' transaction, deleted from the store after, and kept queued when the store fails, which
 * fails the job (reports.file_deletions; DELETE /reports/:id queues its file the same way). The
 * scheduled job purges the other records the reader database role writes, past their retention
 * (packages/db/src/retention.ts): refresh tokens and finished mailings with their outbox. One
 * worker for them all because its role is the one allowed to delete them (README, Database roles).
 */
export const cleanupReportsHandler =
  (deps: CleanupDeps): Handler<typeof reportsQueue, "cleanup-reports"> =>
  async (_payload, ctx) => {
    const now = new Date();
    const ended = new Date(now.getTime() - deps.ttlHours * 3_600_000);
    let deleted = 0;
    for (;;) {
      // a batch's records go with their files queued in one transaction (queueUnusedFiles)
      const gone = await deps.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ id: string; storage_key: string | null }>`
          delete from reports.reports r using (
            select id from reports.reports
             where (status = 'succeeded' and expires_at <= ${now})
                or (status in ('failed', 'cancelled') and finished_at <= ${ended})
             limit ${BATCH} for update skip locked) doomed
           where r.id = doomed.id
          returning r.id, r.storage_key`.execute(trx);
        await queueUnusedFiles(
          trx,
          rows.map((r) => r.storage_key).filter((k): k is string => k !== null),
        );
        return rows.length;
      });
      deleted += gone;
      if (gone < BATCH) break;
    }
    // every queued file: this run's, and those a store outage left from earlier deletions
    const files = await deleteQueuedFiles(deps.db, deps.storage, { limit: FILES_PER_RUN });
    if (deleted || files.deleted)
      ctx.logger.info({ records: deleted, files: files.deleted }, "expired reports deleted");
    const result: { deleted: number; refreshTokens?: number; mailings?: number; messages?: number } = {
      deleted,
    };
    if (deps.refreshTokenRetentionDays !== undefined) {
      result.refreshTokens = await purgeRefreshTokens(deps.db, {
        retentionDays: deps.refreshTokenRetentionDays,
      });
      if (result.refreshTokens)
        ctx.logger.info(
          { refreshTokens: result.refreshTokens },
          "refresh tokens past their retention deleted",
        );
    }
    if (deps.mailRetentionDays !== undefined) {
      const mail = await purgeMailings(deps.db, { retentionDays: deps.mailRetentionDays });
      Object.assign(result, mail);
      if (mail.mailings || mail.messages)
        ctx.logger.info(mail, "finished mailings past their retention deleted");
    }
    if (files.failed.length) {
      // after the other purges, so that a file-store outage does not hold them up: the job fails
      // visibly (and is retried), the files stay queued for the next run
      const [first] = files.failed;
      throw new Error(
        `${files.failed.length} report file${files.failed.length > 1 ? "s" : ""} could not be deleted from the store and stay${files.failed.length > 1 ? "" : "s"} queued for the next cleanup (reports.file_deletions); ${first!.key}: ${first!.error}`,
      );
    }
    return { ...result, files: files.deleted };
  };
