import { sql } from "@finanzas/db";
import type { RawBuilder } from "kysely";
import { InvalidQueryError } from "./errors.js";

/** How a sort key orders rows: the SQL expression (never null) and the type of its values. */
export interface SortSpec {
  expr: RawBuilder<unknown>;
  type: "date" | "numeric" | "text" | "integer";
}

type CursorValue = string | number;

/** `next` cursor: the sort it belongs to and the last row's (value, id), base64url JSON. */
export function encodeCursor(sort: string, value: CursorValue, id: number): string {
  return Buffer.from(JSON.stringify([sort, value, id])).toString("base64url");
}

export function decodeCursor(cursor: string, sort: string): { value: CursorValue; id: number } {
  const bad = (why: string) =>
    new InvalidQueryError(`invalid cursor: ${why}`, [{ param: "cursor", message: why }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw bad("is not a cursor this API returned");
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw bad("is not a cursor this API returned");
  const [cursorSort, value, id] = parsed as unknown[];
  if (cursorSort !== sort)
    throw bad(`belongs to sort ${String(cursorSort)}, not ${sort}: start again without it`);
  if (!Number.isSafeInteger(id) || (typeof value !== "string" && typeof value !== "number")) {
    throw bad("is not a cursor this API returned");
  }
  if (typeof value === "string" && value.length > 200) throw bad("is not a cursor this API returned");
  return { value, id: id as number };
}

const badCursor = () =>
  new InvalidQueryError("invalid cursor", [
    { param: "cursor", message: "is not a cursor this API returned" },
  ]);

const cast = (value: CursorValue, type: SortSpec["type"]) => {
  switch (type) {
    case "date":
      if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw badCursor();
      return sql`${value}::date`;
    case "numeric":
      if (!/^-?\d+(\.\d+)?$/.test(String(value))) throw badCursor();
      return sql`${String(value)}::numeric`;
    case "integer":
      return sql`${Number(value)}::integer`;
    default:
      return sql`${String(value)}::text`;
  }
};

/** `-date` → `date`: the sort key a sort parameter names. */
type SortKey<S extends string> = S extends `-${infer K}` ? K : S;

/** The sort keys of a query, tied to its contract's sort tuple: a key missing here does not compile. */
export type SortMap<T extends readonly string[]> = Record<SortKey<T[number]>, SortSpec>;

export interface Keyset {
  /** WHERE fragment placing the page after the cursor (or true). */
  after: RawBuilder<unknown>;
  orderBy: RawBuilder<unknown>;
  /** Fetch one more than the page to know whether there is a next page. */
  limit: number;
  page<T extends { id: number; _k: CursorValue }>(rows: T[]): { items: Omit<T, "_k">[]; next: string | null };
}

/**
 * Keyset pagination over (sort expression, id): a stable total order, so pages neither skip nor
 * repeat rows even while rows are added or removed between requests; no OFFSET.
 */
export function keyset<T extends readonly string[]>(
  sortParam: T[number],
  sorts: SortMap<T>,
  idExpr: RawBuilder<unknown>,
  limit: number,
  cursor: string | undefined,
): Keyset {
  const desc = sortParam.startsWith("-");
  const spec = (sorts as Record<string, SortSpec | undefined>)[desc ? sortParam.slice(1) : sortParam];
  if (!spec)
    throw new InvalidQueryError(`unknown sort ${sortParam}`, [
      { param: "sort", message: "is not a sort option" },
    ]);
  const dir = desc ? sql`desc` : sql`asc`;
  let after: RawBuilder<unknown> = sql`true`;
  if (cursor) {
    const { value, id } = decodeCursor(cursor, sortParam);
    after = desc
      ? sql`(${spec.expr}, ${idExpr}) < (${cast(value, spec.type)}, ${id})`
      : sql`(${spec.expr}, ${idExpr}) > (${cast(value, spec.type)}, ${id})`;
  }
  return {
    after,
    orderBy: sql`${spec.expr} ${dir}, ${idExpr} ${dir}`,
    limit: limit + 1,
    page(rows) {
      const more = rows.length > limit;
      const items = (more ? rows.slice(0, limit) : rows).map(({ _k: _, ...rest }) => rest);
      const last = more ? rows[limit - 1] : undefined;
      return { items, next: last ? encodeCursor(sortParam, last._k, last.id) : null };
    },
  };
}
