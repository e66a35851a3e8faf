/**
 * The partitions of a full pass in progress (`etl.partitions`): id ranges of one model read at once,
 * each with its own resume point committed with its pages (load.ts, `PartitionPatch`). They are
 * written when the pass starts, in the transaction that marks it in progress on the model's cursor,
 * and deleted when it completes, in the transaction that moves the cursor.
 */
import type { Database, Kysely, Selectable } from "@finanzas/db";
import { sql } from "@finanzas/db";
import { type CursorPatch, checkLease, type Lease, patchCursor } from "./load.js";

export type PartitionRow = Selectable<Database["etl.partitions"]>;

/** One id range: ids in (afterId, toId], toId null for the last (no upper bound). */
export interface PartitionRange {
  afterId: number;
  toId: number | null;
  /** Records in it when the pass started. */
  expected: number;
}

export async function loadPartitions(db: Kysely<Database>, model: string): Promise<PartitionRow[]> {
  return db.selectFrom("etl.partitions").selectAll().where("model", "=", model).orderBy("part").execute();
}

/**
 * A partitioned pass starts: its ranges written (those of an earlier pass dropped) and the pass
 * marked in progress on the cursor, in one transaction under the lease.
 */
export async function startPartitions(
  db: Kysely<Database>,
  lease: Lease,
  model: string,
  ranges: readonly PartitionRange[],
  cursor: CursorPatch,
): Promise<PartitionRow[]> {
  return db.transaction().execute(async (trx) => {
    await checkLease(trx, lease);
    await trx.deleteFrom("etl.partitions").where("model", "=", model).execute();
    const rows = await trx
      .insertInto("etl.partitions")
      .values(
        ranges.map((r, part) => ({
          model,
          part,
          after_id: r.afterId,
          to_id: r.toId,
          last_id: r.afterId,
          expected: r.expected,
        })),
      )
      .returningAll()
      .execute();
    await patchCursor(trx, model, cursor);
    return rows.sort((a, b) => a.part - b.part);
  });
}

/** A partition read to its end. */
export async function finishPartition(
  db: Kysely<Database>,
  lease: Lease,
  model: string,
  part: number,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await checkLease(trx, lease);
    await trx
      .updateTable("etl.partitions")
      .set({ finished_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
      .where("model", "=", model)
      .where("part", "=", part)
      .execute();
  });
}

/**
 * The pass is complete: the partitions go and the cursor moves (`cursor` given the newest
 * write_date of every partition, this run's and earlier runs'), in one transaction under the lease.
 * Returns that write_date in seconds (null: none seen).
 */
export async function completePass(
  db: Kysely<Database>,
  lease: Lease,
  model: string,
  cursor: (highWater: Date | null) => CursorPatch,
): Promise<number | null> {
  return db.transaction().execute(async (trx) => {
    await checkLease(trx, lease);
    const { rows } = await sql<{ high: Date | null }>`
      select max(high_water) as high from etl.partitions where model = ${model}`.execute(trx);
    const high = rows[0]?.high ? new Date(rows[0].high) : null;
    await trx.deleteFrom("etl.partitions").where("model", "=", model).execute();
    await patchCursor(trx, model, cursor(high));
    return high === null ? null : Math.floor(high.getTime() / 1000);
  });
}
