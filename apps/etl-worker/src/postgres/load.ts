/**
 * Where PostgreSQL is written. A batch is one transaction: the lease on the model is checked (and
 * renewed), the rows are upserted set-based (one INSERT … SELECT FROM unnest(one array per column)
 * … ON CONFLICT DO UPDATE: a third of the bytes of JSON rows and a third less work for PostgreSQL
 * than json_to_recordset), and the model's cursor moves, so a crash at any point leaves either the
 * whole batch with its cursor or neither. Pages of a full pass whose ids are above every id the
 * table holds (a first sync, or the part of a pass beyond what was there) go in with `COPY … FROM
 * STDIN` instead, in the same transaction with the same lease check and cursor: PostgreSQL inserts
 * them in bulk, for less than half the CPU of the upsert. The records a page left out (values
 * PostgreSQL cannot store, checked before anything is sent: transform.ts) are listed in
 * etl.rejected by the same transaction (postgres/rejected.ts).
 */
import type { Database, Kysely, Selectable, Transaction } from "@finanzas/db";
import { CompiledQuery, sql } from "@finanzas/db";
import { COLUMN_TYPES, type FieldSpec, tableOf } from "@finanzas/ledger";
import type { Pool, PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { ArrayPage, CopyPage } from "../transform.js";
import { type Rejections, rejectionStatements } from "./rejected.js";

export class LeaseLostError extends Error {
  constructor(model: string) {
    super(`lost the lock on ${model} (its lease expired and another worker took it): stopping this model`);
    this.name = "LeaseLostError";
  }
}

export interface Lease {
  model: string;
  owner: string;
  ttlSeconds: number;
}

/**
 * The lease check of a batch: the lock row must still name this owner. It is read FOR KEY SHARE,
 * which the owner's heartbeat (an UPDATE of `expires_at`) does not wait for, so the partitions of a
 * model commit side by side; a taker's SELECT … FOR UPDATE waits for the batches in flight, and the
 * batches after it see the new owner and fail. So no batch of a lease holder commits once another
 * run has taken the model over.
 */
const leaseCheck = (lease: Lease) =>
  sql<{ owner: string }>`select owner from etl.locks
    where model = ${lease.model} and owner = ${lease.owner} for key share`;

/** Checks the lease inside the batch's transaction; throws LeaseLostError when it is not ours anymore. */
export async function checkLease(trx: Kysely<Database> | Transaction<Database>, lease: Lease): Promise<void> {
  const { rows } = await leaseCheck(lease).execute(trx);
  if (rows.length !== 1) throw new LeaseLostError(lease.model);
}

/**
 * Builds the upsert of a model's rows for the columns this server fills: parameter k is the array
 * literal of column k (`id` first) as `Transformer.encode` makes it, unnested into rows. Id lists
 * travel as text (an array of arrays must be rectangular) and are cast per row.
 */
export function upsertStatement(model: string, columns: readonly FieldSpec[]): string {
  const names = columns.map((c) => quote(c.name));
  const arrays = [
    "$1::integer[]",
    ...columns.map((c, i) => `$${i + 2}::${c.kind === "many2many" ? "text" : COLUMN_TYPES[c.kind]}[]`),
  ];
  const values = columns.map((c, i) =>
    c.kind === "many2many" ? `u.${names[i]}::${COLUMN_TYPES[c.kind]}` : `u.${names[i]}`,
  );
  return upsertFrom(
    model,
    columns,
    values,
    `unnest(${arrays.join(", ")}) as u(id${names.map((n) => `, ${n}`).join("")})`,
  );
}

/** INSERT … SELECT `values` FROM `from` (aliased u) … ON CONFLICT DO UPDATE when something differs. */
function upsertFrom(model: string, columns: readonly FieldSpec[], values: string[], from: string): string {
  const table = `odoo.${quote(tableOf(model))}`;
  const names = columns.map((c) => quote(c.name));
  const distinct = names.length
    ? `(${names.map((n) => `t.${n}`).join(", ")}) is distinct from (${names.map((n) => `excluded.${n}`).join(", ")}) or `
    : "";
  return (
    `insert into ${table} as t (id${names.map((n) => `, ${n}`).join("")}, _synced_at, _deleted_at) ` +
    `select u.id${values.map((v) => `, ${v}`).join("")}, now(), null ` +
    `from ${from} ` +
    `on conflict (id) do update set ${names.map((n) => `${n} = excluded.${n}, `).join("")}` +
    "_synced_at = excluded._synced_at, _deleted_at = null " +
    `where ${distinct}t._deleted_at is not null`
  );
}

/** The statements that write a COPY page (Transformer.encodeCopy) of a model's columns. */
export interface CopyStatements {
  /** Straight into the table: every id of the page is new to it. */
  copy: string;
  /** When one is not after all: into a staging table, then upserted from it. */
  stage: string;
  stageCopy: string;
  upsertFromStage: string;
}

export function copyStatements(model: string, columns: readonly FieldSpec[]): CopyStatements {
  const table = `odoo.${quote(tableOf(model))}`;
  const list = ["id", ...columns.map((c) => quote(c.name))].join(", ");
  return {
    copy: `copy ${table} (${list}) from stdin`,
    stage: `create temp table _copy_stage (like ${table} including defaults) on commit drop`,
    stageCopy: `copy _copy_stage (${list}) from stdin`,
    upsertFromStage: upsertFrom(
      model,
      columns,
      columns.map((c) => `u.${quote(c.name)}`),
      "_copy_stage u",
    ),
  };
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export type CursorPatch = Partial<{
  write_date: Date | null;
  last_id: number | null;
  full_high_water: Date | null;
  full_last_id: number | null;
  full_started_at: Date | null;
  last_full_at: Date;
  last_success_at: Date;
  last_reconciled_at: Date;
  absent_at: Date | null;
  last_run_id: number;
  /**
   * An incremental pass's position: the cursor's write_date moves to it unless it is already later
   * (never back: pages that commit out of order, or the overlap's first pages, leave it where it is).
   */
  advance_to: Date;
}>;

const upsertCursor = (trx: Kysely<Database> | Transaction<Database>, model: string, patch: CursorPatch) => {
  const { advance_to: advance, ...plain } = patch;
  const values = advance ? { ...plain, write_date: advance } : plain;
  return trx
    .insertInto("etl.cursors")
    .values({ model, ...values, updated_at: sql<Date>`now()` })
    .onConflict((oc) =>
      oc.column("model").doUpdateSet({
        ...plain,
        ...(advance ? { write_date: sql<Date>`greatest(etl.cursors.write_date, ${advance})` } : {}),
        updated_at: sql<Date>`now()`,
      }),
    );
};

export async function patchCursor(
  trx: Kysely<Database> | Transaction<Database>,
  model: string,
  patch: CursorPatch,
): Promise<void> {
  await upsertCursor(trx, model, patch).execute();
}

/** A model's cursor as the passes read it. */
export interface CursorState {
  row: Selectable<Database["etl.cursors"]> | undefined;
  /** A full pass is in progress (its last committed id is `full_last_id`): the next one resumes it. */
  fullInProgress: boolean;
  /** The incremental cursor's write_date in whole seconds; null until a first sync completes. */
  second: number | null;
}

export async function readCursor(db: Kysely<Database>, model: string): Promise<CursorState> {
  const row = await db.selectFrom("etl.cursors").selectAll().where("model", "=", model).executeTakeFirst();
  return {
    row,
    fullInProgress: row?.full_last_id !== null && row?.full_last_id !== undefined,
    second: row?.write_date ? Math.floor(new Date(row.write_date).getTime() / 1000) : null,
  };
}

/** A partition's resume point moved by a batch of its pages (see postgres/partitions.ts). */
export interface PartitionPatch {
  part: number;
  /** The last id committed. */
  lastId: number;
  /** Records read in the batch. */
  records: number;
  /** Newest write_date of the partition so far. */
  highWater: Date | null;
}

const patchPartition = (
  trx: Kysely<Database> | Transaction<Database>,
  model: string,
  patch: PartitionPatch,
) =>
  trx
    .updateTable("etl.partitions")
    .set({
      last_id: patch.lastId,
      done: sql<number>`done + ${patch.records}`,
      high_water: sql<Date | null>`greatest(high_water, ${patch.highWater})`,
      updated_at: sql<Date>`now()`,
    })
    .where("model", "=", model)
    .where("part", "=", patch.part);

export interface Batch {
  model: string;
  statement: string;
  page: ArrayPage;
  lease: Lease;
  cursor?: CursorPatch;
  partition?: PartitionPatch;
  /** The records the page left out, and those it wrote (see postgres/rejected.ts). */
  rejections?: Rejections;
}

/** A batch that only moves the cursor. */
export const EMPTY_PAGE: ArrayPage = { format: "arrays", columns: [], rows: 0 };

/** One transaction: lease check, upsert, cursor. Returns the rows inserted or changed. */
export async function writeBatch(db: Kysely<Database>, batch: Batch): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // The batch and its cursor commit together, so losing the last commits in a PostgreSQL crash
    // only means re-reading them: no need to wait for the WAL flush (transaction-scoped setting).
    await sql`set local synchronous_commit = off`.execute(trx);
    await checkLease(trx, batch.lease);
    let changed = 0;
    if (batch.page.rows > 0) {
      const written = await trx.executeQuery(CompiledQuery.raw(batch.statement, batch.page.columns));
      changed = Number(written.numAffectedRows ?? 0);
    }
    if (batch.rejections)
      for (const statement of rejectionStatements(batch.model, batch.rejections))
        await trx.executeQuery(CompiledQuery.raw(statement.text, statement.values));
    if (batch.cursor) await patchCursor(trx, batch.model, batch.cursor);
    if (batch.partition) await patchPartition(trx, batch.model, batch.partition).execute();
    return changed;
  });
}

export interface CopyBatch {
  model: string;
  statements: CopyStatements;
  page: CopyPage;
  lease: Lease;
  cursor?: CursorPatch;
  partition?: PartitionPatch;
  rejections?: Rejections;
}

/**
 * One transaction on a connection of its own (COPY needs the driver's stream): lease check, COPY,
 * cursor. Should a row with one of the page's ids have been written meanwhile (a `sync records`
 * job does not wait for the model's lease), the COPY fails on the primary key and the batch is
 * written again through a staging table and the upsert. Returns the rows written.
 */
export async function copyBatch(pool: Pool, db: Kysely<Database>, batch: CopyBatch): Promise<number> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const inTransaction = async (body: () => Promise<number>): Promise<number> => {
    await client.query("begin");
    try {
      await client.query("set local synchronous_commit = off");
      const lease = leaseCheck(batch.lease).compile(db);
      const held = await client.query(lease.sql, lease.parameters as unknown[]);
      if (held.rowCount !== 1) throw new LeaseLostError(batch.model);
      const rows = await body();
      if (batch.rejections)
        for (const statement of rejectionStatements(batch.model, batch.rejections))
          await client.query(statement.text, statement.values);
      if (batch.cursor) {
        const cursor = upsertCursor(db, batch.model, batch.cursor).compile();
        await client.query(cursor.sql, cursor.parameters as unknown[]);
      }
      if (batch.partition) {
        const partition = patchPartition(db, batch.model, batch.partition).compile();
        await client.query(partition.sql, partition.parameters as unknown[]);
      }
      await client.query("commit");
      return rows;
    } catch (error) {
      await client.query("rollback").catch((e: Error) => {
        broken = e;
      });
      throw error;
    }
  };
  try {
    try {
      return await inTransaction(() => copyIn(client, batch.statements.copy, batch.page.data));
    } catch (error) {
      if ((error as { code?: unknown }).code !== "23505" || broken) throw error;
      return await inTransaction(async () => {
        await client.query(batch.statements.stage);
        await copyIn(client, batch.statements.stageCopy, batch.page.data);
        return (await client.query(batch.statements.upsertFromStage)).rowCount ?? 0;
      });
    }
  } finally {
    client.release(broken);
  }
}

function copyIn(client: PoolClient, statement: string, data: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(statement));
    stream.on("error", reject);
    stream.on("finish", () => resolve(stream.rowCount));
    stream.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
}

/**
 * The highest id in a model's table (within (afterId, toId] when given), deleted rows included:
 * pages above it can be COPYed.
 */
export async function tableMaxId(
  db: Kysely<Database>,
  model: string,
  range: { afterId: number; toId: number | null } = { afterId: 0, toId: null },
): Promise<number> {
  const { rows } = await sql<{
    n: number | null;
  }>`select max(id) as n from ${sql.table(`odoo.${tableOf(model)}`)}
    where id > ${range.afterId} and (${range.toId}::integer is null or id <= ${range.toId})`.execute(db);
  return rows[0]?.n ?? range.afterId;
}

/**
 * Marks ids as gone from Odoo (only those not marked yet); returns how many were marked. A record
 * gone from Odoo is no longer a rejected one either.
 */
export async function markDeleted(
  db: Kysely<Database>,
  model: string,
  ids: readonly number[],
  lease: Lease,
): Promise<number> {
  if (ids.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    await checkLease(trx, lease);
    const result = await sql`update ${sql.table(`odoo.${tableOf(model)}`)} set _deleted_at = now()
      where id = any(${[...ids]}::integer[]) and _deleted_at is null`.execute(trx);
    await sql`delete from etl.rejected where model = ${model} and id = any(${[...ids]}::integer[])`.execute(
      trx,
    );
    return Number(result.numAffectedRows ?? 0);
  });
}

/** Live (not deleted) rows with lo ≤ id < hi. */
export async function localCount(
  db: Kysely<Database>,
  model: string,
  lo: number,
  hi: number,
): Promise<number> {
  const { rows } = await sql<{
    n: number;
  }>`select count(*)::int as n from ${sql.table(`odoo.${tableOf(model)}`)}
    where id >= ${lo} and id < ${hi} and _deleted_at is null`.execute(db);
  return rows[0]?.n ?? 0;
}

export async function localIds(
  db: Kysely<Database>,
  model: string,
  lo: number,
  hi: number,
): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`select id from ${sql.table(`odoo.${tableOf(model)}`)}
    where id >= ${lo} and id < ${hi} and _deleted_at is null order by id`.execute(db);
  return rows.map((r) => r.id);
}

export async function localMaxId(db: Kysely<Database>, model: string): Promise<number> {
  const { rows } = await sql<{
    n: number | null;
  }>`select max(id) as n from ${sql.table(`odoo.${tableOf(model)}`)}
    where _deleted_at is null`.execute(db);
  return rows[0]?.n ?? 0;
}
