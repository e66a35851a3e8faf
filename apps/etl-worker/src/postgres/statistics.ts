/** The planner's statistics of the `odoo` tables: read to order a run's models, refreshed after a sync. */
import { type Database, type Kysely, sql } from "@finanzas/db";
import { tableOf } from "@finanzas/ledger";

/** PostgreSQL's row estimate of each `odoo` table (by table name; absent before a first ANALYZE). */
export async function rowEstimates(db: Kysely<Database>): Promise<Map<string, number>> {
  const { rows } = await sql<{ table: string; rows: number }>`
    select c.relname as table, greatest(c.reltuples, 0)::float8 as rows
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'odoo' and c.relkind = 'r'`.execute(db);
  return new Map(rows.map((r) => [r.table, Number(r.rows)]));
}

/**
 * The planner's statistics of a model's table, refreshed (ANALYZE) after a full pass, and after
 * any other run once the rows changed since the last ANALYZE pass autovacuum's own threshold (50
 * + 10 % of the table as last analyzed). Autovacuum gets there too, but a minute or more later,
 * or never where it is off; until then the API plans its reads over a table it believes empty.
 * Measured: the dashboard's open items over 500 000 freshly synced journal items ran for over 11
 * minutes on a nested loop, and in about a second once analyzed. Returns how long ANALYZE took
 * (ms), or undefined when it was not needed.
 */
export async function refreshStatistics(
  db: Kysely<Database>,
  model: string,
  /** `full`: after a full pass; `changed`: rows this run upserted or marked deleted. */
  run: { full: boolean; changed: number },
): Promise<number | undefined> {
  const table = tableOf(model);
  if (!run.full) {
    const { rows } = await sql<{ tuples: string; changed: string | null }>`
      select greatest(c.reltuples, 0)::text as tuples, s.n_mod_since_analyze::text as changed
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      left join pg_stat_user_tables s on s.relid = c.oid
      where n.nspname = 'odoo' and c.relname = ${table}`.execute(db);
    const stat = rows[0];
    if (!stat) return undefined;
    // This run's own writes count at once; PostgreSQL's counter adds earlier runs' (it lags a
    // little: each connection reports its writes when it next goes idle).
    const changed = Math.max(run.changed, Number(stat.changed ?? 0));
    if (changed <= 50 + 0.1 * Number(stat.tuples)) return undefined;
  }
  const started = performance.now();
  await sql`analyze ${sql.table(`odoo.${table}`)}`.execute(db);
  return Math.round(performance.now() - started);
}
