import type { Db } from "@finanzas/db";
import type { Logger } from "@finanzas/logger";

/** Where the trigram operator class goes in a definition (its schema is looked up at run time). */
const TRGM = "%TRGM%";

/**
 * The text a search matches: the fields one after another, joined by U+001F. The API's search
 * pattern admits no control character, so a match never spans two fields: `text ilike '%q%'` is
 * the same as `field1 ilike '%q%' or field2 ilike … `, and one trigram index serves it. `alias`
 * qualifies the columns in a query; the index has them bare (PostgreSQL matches the two).
 */
export const searchTextOf = (columns: readonly string[], alias?: string): string =>
  columns.map((c) => `coalesce(${alias ? `${alias}.` : ""}${c}, '')`).join(" || E'\\x1f' || ");

/** What the invoice list's and the partner list's `q` search. */
export const INVOICE_SEARCH = ["name", "ref", "payment_reference"] as const;
export const PARTNER_SEARCH = ["name", "ref", "vat"] as const;

/*
 * Read-side indexes on the ETL's tables. The ETL creates `odoo.*` (primary keys only, so its
 * upserts stay cheap); the indexes that serve the API's sorts and filters are declared here and
 * built by whoever owns the tables: web-api at start and after each data-changed signal until the
 * tables exist, and the etl-worker after its syncs. With one database user for everything both try
 * (harmlessly); with the database roles applied (packages/db/src/roles.ts) the tables are the ETL
 * role's, only it may index them, and web-api's reader role skips them.
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
  // `q` on invoices: a number or reference anywhere in 10^5–10^6 moves without reading them all
  ["api_move_search", "account_move", `using gin ((${searchTextOf(INVOICE_SEARCH)}) ${TRGM})`],
  ["api_line_move", "account_move_line", "(move_id)"],
  ["api_line_account_date", "account_move_line", "(account_id, (coalesce(date, '0001-01-01'::date)), id)"],
  ["api_line_date_id", "account_move_line", "((coalesce(date, '0001-01-01'::date)), id)"],
  ["api_line_partner", "account_move_line", "(partner_id)"],
  ["api_payment_date_id", "account_payment", "((coalesce(date, '0001-01-01'::date)), id)"],
  // the latest reconciliation's date: whether open amounts as of a date may use the items' residuals
  ["api_partial_max_date", "account_partial_reconcile", "(max_date)"],
  ["api_partner_name_id", "res_partner", "((coalesce(name, '')), id)"],
  ["api_partner_search", "res_partner", `using gin ((${searchTextOf(PARTNER_SEARCH)}) ${TRGM})`],
];

type Client = Pick<Db["pool"], "query">;

/**
 * pg_trgm's GIN operator class, schema-qualified (Supabase keeps extensions in `extensions`), after
 * creating the extension where it is missing (trusted since PostgreSQL 13: a database owner may);
 * null when it cannot be had. Text search still answers without it, by reading every row.
 */
async function trigramOpclass(client: Client, logger: Logger): Promise<string | null> {
  const find = async () =>
    (
      await client.query<{ schema: string }>(
        `select n.nspname as schema from pg_opclass c
           join pg_namespace n on n.oid = c.opcnamespace join pg_am am on am.oid = c.opcmethod
          where c.opcname = 'gin_trgm_ops' and am.amname = 'gin' limit 1`,
      )
    ).rows[0]?.schema;
  let schema = await find();
  let failure: unknown;
  if (schema === undefined) {
    // Two replicas creating it at once: the loser's error is harmless, the lookup below tells.
    await client.query("create extension if not exists pg_trgm").catch((error: unknown) => {
      failure = error;
    });
    schema = await find();
  }
  if (schema === undefined) {
    logger.warn(
      { err: failure },
      "the pg_trgm extension is not available: invoice and partner text search reads every row",
    );
    return null;
  }
  return `"${schema.replaceAll('"', '""')}".gin_trgm_ops`;
}

export function createIndexKeeper(pool: Db["pool"], logger: Logger): { ensure(): Promise<void> } {
  let done = false;
  let running: Promise<void> | null = null;
  let trgm: string | null | undefined; // the operator class; null: not available here
  let toldNotOwner = false;
  const run = async () => {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{
        relname: string;
        mine: boolean;
        invalid: boolean;
        busy: boolean;
      }>(
        `select c.relname, pg_has_role(c.relowner, 'USAGE') as mine,
                coalesce(not i.indisvalid, false) as invalid,
                not coalesce(i.indisvalid, true) and exists (select 1 from pg_locks l
                         where l.database = (select oid from pg_database where datname = current_database())
                           and l.relation = i.indrelid and l.granted
                           and l.mode = 'ShareUpdateExclusiveLock' and l.pid <> pg_backend_pid()) as busy
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           left join pg_index i on i.indexrelid = c.oid
          where n.nspname = 'odoo'`,
      );
      // An index a `create index concurrently` left behind when it failed or was cut short (a worker
      // stopped during a build of minutes, a deadlock) stays INVALID: the planner never uses it, and
      // `if not exists` would skip it for good. It is dropped and built again; unless its table is
      // busy (a build by another replica in progress looks the same, as do VACUUM and ANALYZE):
      // then it is looked at again on the next call.
      const ours = new Set(INDEXES.map(([name]) => name));
      const leftovers = rows.filter((r) => r.invalid && ours.has(r.relname));
      let busyLeftover = false;
      const dropped = new Set<string>();
      for (const leftover of leftovers) {
        if (!leftover.mine) continue; // the table's owner mends it
        if (leftover.busy) {
          busyLeftover = true;
          continue;
        }
        await client.query(`drop index concurrently if exists odoo.${leftover.relname}`);
        dropped.add(leftover.relname);
        logger.warn(
          { index: leftover.relname },
          "a read index left invalid by a build that did not finish: dropped, built again",
        );
      }
      const present = new Set(rows.filter((r) => !dropped.has(r.relname)).map((r) => r.relname));
      // Only a table's owner may index it. With the database roles applied the synced copy is the
      // ETL role's, and the etl-worker builds these indexes; the API's reader role leaves them to it.
      const mine = new Set(rows.filter((r) => r.mine).map((r) => r.relname));
      const others = INDEXES.filter(
        ([name, table]) => present.has(table) && !present.has(name) && !mine.has(table),
      );
      if (others.length > 0 && !toldNotOwner) {
        toldNotOwner = true;
        logger.info(
          { tables: [...new Set(others.map(([, table]) => `odoo.${table}`))] },
          "the read indexes of tables another role owns are left to it (the etl-worker builds them)",
        );
      }
      let missing = INDEXES.filter(([name, table]) => mine.has(table) && !present.has(name));
      const tablesMissing = INDEXES.some(([, table]) => !present.has(table));
      if (trgm === undefined && missing.some(([, , definition]) => definition.includes(TRGM)))
        trgm = await trigramOpclass(client, logger);
      // Without pg_trgm the trigram indexes are given up on (asked once per process, not per signal).
      if (trgm === null) missing = missing.filter(([, , definition]) => !definition.includes(TRGM));
      if (missing.length === 0) {
        done = !tablesMissing && !busyLeftover;
        return;
      }
      for (const [name, table, definition] of missing) {
        try {
          await client.query(
            `create index concurrently if not exists ${name} on odoo.${table} ${definition.replace(TRGM, trgm ?? "")} where _deleted_at is null`,
          );
          logger.info({ index: name, table: `odoo.${table}` }, "created a read index");
        } catch (error) {
          // Another replica created it at the same instant (duplicate relation): that is success.
          const code = (error as { code?: string }).code;
          if (code !== "42P07" && code !== "23505") throw error;
        }
      }
      done = !tablesMissing && !busyLeftover;
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
