/**
 * `etl.rejected`: the Odoo records a sync read but could not write (a value PostgreSQL cannot
 * store, see transform.ts). Each page's rejections are written in the page's own transaction, with
 * its rows and its cursor, so a committed cursor never stands past a record that is neither in its
 * table nor listed here; the ids a page did write (or a range it read whole) leave the list in the
 * same transaction. Every sync reads the listed ids of its models again (engine/passes/rejected.ts).
 */
import type { Database, Kysely } from "@finanzas/db";
import { sql } from "@finanzas/db";
import type { Problem } from "../transform.js";

/** What a page's transaction does to the list: its rejections in, what it wrote (or read whole) out. */
export interface Rejections {
  runId: number;
  /** The page's rejected records' problems (`action: "rejected"`; other problems are ignored). */
  problems: readonly Problem[];
  /**
   * What leaves the list: the ids the page wrote (a PostgreSQL array literal, the upsert's first
   * column), or every id in (afterId, lastId] but the rejected ones (a full pass's page: it read
   * every record Odoo has in that range).
   */
  clear?: { ids: string } | { afterId: number; lastId: number } | undefined;
}

/** A parameterised statement, for Kysely (`CompiledQuery.raw`) and a pg client alike. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** The rejected records of a page, one entry per record with all its problems. */
export function rejectedRecords(problems: readonly Problem[]): { id: number; problems: object[] }[] {
  const byId = new Map<number, object[]>();
  for (const p of problems) {
    if (p.action !== "rejected") continue;
    const list = byId.get(p.id);
    const entry = { field: p.field, expected: p.expected, value: p.value };
    if (list) list.push(entry);
    else byId.set(p.id, [entry]);
  }
  return [...byId].map(([id, list]) => ({ id, problems: list }));
}

/** The statements a page's transaction runs for `etl.rejected` (none when there is nothing to do). */
export function rejectionStatements(model: string, r: Rejections): Statement[] {
  const records = rejectedRecords(r.problems).filter((x) => x.id > 0);
  const ids = records.map((x) => x.id);
  const out: Statement[] = [];
  const clear = r.clear;
  if (clear && "ids" in clear) {
    if (clear.ids !== "{}")
      out.push({
        text: "delete from etl.rejected where model = $1 and id = any($2::integer[])",
        values: [model, clear.ids],
      });
  } else if (clear && clear.lastId > clear.afterId) {
    out.push({
      text: "delete from etl.rejected where model = $1 and id > $2 and id <= $3 and id <> all($4::integer[])",
      values: [model, clear.afterId, clear.lastId, ids],
    });
  }
  if (records.length > 0) {
    out.push({
      text:
        "insert into etl.rejected as t (model, id, problems, first_run_id, last_run_id) " +
        "select $1, r.id, r.problems, $3, $3 from jsonb_to_recordset($2::jsonb) as r(id integer, problems jsonb) " +
        "on conflict (model, id) do update set problems = excluded.problems, last_run_id = excluded.last_run_id, last_seen_at = now()",
      values: [model, JSON.stringify(records), r.runId],
    });
  }
  return out;
}

/** Ids of a model's rejected records a run has not read yet, lowest first, at most `limit`. */
export async function rejectedIds(
  db: Kysely<Database>,
  model: string,
  runId: number,
  limit: number,
): Promise<number[]> {
  const rows = await db
    .selectFrom("etl.rejected")
    .select("id")
    .where("model", "=", model)
    .where((eb) => eb.or([eb("last_run_id", "is", null), eb("last_run_id", "<>", runId)]))
    .orderBy("id")
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** Whether a model has rejected records listed (the page writes then keep the list up to date). */
export async function hasRejected(db: Kysely<Database>, model: string): Promise<boolean> {
  const { rows } = await sql<{
    n: number;
  }>`select 1 as n from etl.rejected where model = ${model} limit 1`.execute(db);
  return rows.length > 0;
}
