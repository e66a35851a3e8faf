import type { reportsQueue } from "@finanzas/contracts";
import { type Database, type Kysely, purgeMailings, purgeRefreshTokens, sql } from "@finanzas/db";
import type { Handler } from "@finanzas/queue";
import type { Storage } from "@finanzas/storage";

/** Report records deleted per statement: short statements, no lock held across batches. */
const BATCH = 500;

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
 * stored file once no record points at it any more (a reused report shares its file). The same
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
    let files = 0;
    for (;;) {
      const { rows: gone } = await sql<{ id: string; storage_key: string | null }>`
        delete from reports.reports r using (
          select id from reports.reports
           where (status = 'succeeded' and expires_at <= ${now})
              or (status in ('failed', 'cancelled') and finished_at <= ${ended})
           limit ${BATCH} for update skip locked) doomed
         where r.id = doomed.id
        returning r.id, r.storage_key`.execute(deps.db);
      deleted += gone.length;
      const keys = [...new Set(gone.map((r) => r.storage_key).filter((k): k is string => k !== null))];
      for (const key of keys) {
        const still = await deps.db
          .selectFrom("reports.reports")
          .select("id")
          .where("storage_key", "=", key)
          .executeTakeFirst();
        if (still) continue;
        await deps.storage.delete(key);
        files++;
      }
      if (gone.length < BATCH) break;
    }
    if (deleted) ctx.logger.info({ records: deleted, files }, "expired reports deleted");
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
    return result;
  };
