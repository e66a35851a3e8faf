import type { Db } from "@finanzas/db";
import type { Logger } from "@finanzas/logger";

/*
 * Read-side indexes on the ETL's tables. The ETL creates `odoo.*` (primary keys only, so its
 * upserts stay cheap); the indexes that serve the API's sorts and filters belong to the reader and
 * are created here: at start, and again after each data-changed signal until the tables exist.
 * `create index concurrently if not exists` never blocks the ETL's writes; replicas racing on the
 * same index are harmless (the loser sees it exists, or gets a duplicate error taken as success).
 * No session-level advisory lock: it would not survive a transaction-mode pooler (Supabase).
 * Partial on `_deleted_at is null`, like every read.
 */
const INDEXES: [name: string, table: string, definition: string][] = [
  ["api_move_date_id", "account_move", "((coalesce(date, '0001-01-01'::date)), id)"],
  ["api_move_due_id", "account_move", "((coalesce(invoice_date_due, date, '0001-01-01'::date)), id)"],
  ["api_move_partner", "account_move", "(partner_id)"],
  ["api_move_name_id", "account_move", "((coalesce(name, '')), id)"],
  ["api_line_move", "account_move_line", "(move_id)"],
  ["api_line_account_date", "account_move_line", "(account_id, (coalesce(date, '0001-01-01'::date)), id)"],
  ["api_line_date_id", "account_move_line", "((coalesce(date, '0001-01-01'::date)), id)"],
  ["api_line_partner", "account_move_line", "(partner_id)"],
  ["api_payment_date_id", "account_payment", "((coalesce(date, '0001-01-01'::date)), id)"],
  ["api_partner_name_id", "res_partner", "((coalesce(name, '')), id)"],
];

export function createIndexKeeper(pool: Db["pool"], logger: Logger): { ensure(): Promise<void> } {
  let done = false;
  let running: Promise<void> | null = null;
  const run = async () => {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ relname: string }>(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'odoo'",
      );
      const present = new Set(rows.map((r) => r.relname));
      const missing = INDEXES.filter(([name, table]) => present.has(table) && !present.has(name));
      const tablesMissing = INDEXES.some(([, table]) => !present.has(table));
      if (missing.length === 0) {
        done = !tablesMissing;
        return;
      }
      for (const [name, table, definition] of missing) {
        try {
          await client.query(
            `create index concurrently if not exists ${name} on odoo.${table} ${definition} where _deleted_at is null`,
          );
          logger.info({ index: name, table: `odoo.${table}` }, "created a read index");
        } catch (error) {
          // Another replica created it at the same instant (duplicate relation): that is success.
          const code = (error as { code?: string }).code;
          if (code !== "42P07" && code !== "23505") throw error;
        }
      }
      done = !tablesMissing;
    } finally {
      client.release();
    }
  };
  return {
    ensure() {
      if (done) return Promise.resolve();
      running ??= run()
        .catch((error) => logger.warn({ err: error }, "cannot create the read indexes yet"))
        .finally(() => {
          running = null;
        });
      return running;
    },
  };
}
