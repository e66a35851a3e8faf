/**
 * The `odoo` schema follows the registry: at worker start every model's table is created or
 * extended (new columns added) under a transaction-scoped advisory lock, so any number of replicas
 * may start at once, and it works through a transaction-mode pooler (no session state).
 */
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import { COLUMN_TYPES, columnsOf, type ModelSpec, REGISTRY, tableOf } from "./registry.js";

const DDL_LOCK = "finanzas_etl_model_tables";

/** Creates or extends `odoo.<table>` for each model; throws when a column exists with another type. */
export async function ensureModelTables(
  db: Kysely<Database>,
  registry: readonly ModelSpec[] = REGISTRY,
): Promise<{ created: string[]; added: string[] }> {
  const created: string[] = [];
  const added: string[] = [];
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${DDL_LOCK}))`.execute(trx);
    // Created only when missing: `create schema if not exists` needs the right to create schemas
    // even when it exists, which the ETL's database role has not (the owner made the schema).
    const schema = await sql`select 1 from pg_namespace where nspname = 'odoo'`.execute(trx);
    if (schema.rows.length === 0) await sql`create schema odoo`.execute(trx);
    const existing = await sql<{ table_name: string; column_name: string; type: string }>`
      select c.relname as table_name, a.attname as column_name, format_type(a.atttypid, a.atttypmod) as type
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'odoo' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`.execute(trx);
    const columns = new Map<string, Map<string, string>>();
    for (const row of existing.rows) {
      const table = columns.get(row.table_name) ?? new Map<string, string>();
      columns.set(row.table_name, table);
      table.set(row.column_name, row.type);
    }
    for (const spec of registry) {
      const table = tableOf(spec.model);
      const have = columns.get(table);
      if (!have) {
        await sql`create table ${sql.table(`odoo.${table}`)} (
          id integer primary key,
          _synced_at timestamptz not null default now(),
          _deleted_at timestamptz
        )`.execute(trx);
        await sql`comment on table ${sql.table(`odoo.${table}`)} is ${sql.lit(
          `Copy of Odoo ${spec.model} (etl-worker); _deleted_at set when the record is gone from Odoo`,
        )}`.execute(trx);
        created.push(table);
      }
      for (const column of columnsOf(spec)) {
        const wanted = COLUMN_TYPES[column.kind];
        const current = have?.get(column.name);
        if (current === undefined) {
          await sql`alter table ${sql.table(`odoo.${table}`)} add column if not exists ${sql.id(column.name)} ${sql.raw(wanted)}`.execute(
            trx,
          );
          if (have) added.push(`${table}.${column.name}`);
        } else if (normalizeType(current) !== normalizeType(wanted)) {
          throw new Error(
            `odoo.${table}.${column.name} is ${current} but the registry says ${wanted} (${column.kind}): ` +
              "migrate the column by hand (the worker never changes a column's type)",
          );
        }
      }
    }
  });
  return { created, added };
}

const normalizeType = (type: string): string =>
  type
    .replace("timestamp with time zone", "timestamptz")
    .replace(/^numeric\(.*\)$/, "numeric")
    .trim();
