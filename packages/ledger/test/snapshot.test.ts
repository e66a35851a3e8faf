import { sql } from "@finanzas/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cursorBatches, inSnapshot } from "../src/index.js";
import { type Books, openBooks } from "./books.js";

let books: Books;
beforeAll(async () => {
  books = await openBooks("ledger_snapshot");
});
afterAll(async () => {
  await books?.close();
});

const numbers = (n: number) =>
  sql<{ g: number }>`select g from generate_series(1, ${n}::integer) g order by g`;

describe("cursor batches", () => {
  it("give every row once, in order, in batches of the size asked (reading the next one ahead)", async () => {
    const read = (n: number, size: number) =>
      inSnapshot(books.store.db, { statementTimeoutMs: 10_000 }, async (trx) => {
        const batches: number[][] = [];
        for await (const rows of cursorBatches(trx, numbers(n), size)) batches.push(rows.map((r) => r.g));
        return batches;
      });
    expect(await read(10, 3)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
    // a last full batch: no empty one after it
    expect(await read(9, 3)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    expect(await read(0, 3)).toEqual([]);
  });

  it("close the cursor when the caller stops early, with the batch read ahead settled, and the transaction goes on", async () => {
    const after = await inSnapshot(books.store.db, { statementTimeoutMs: 10_000 }, async (trx) => {
      for await (const rows of cursorBatches(trx, numbers(100), 10)) {
        expect(rows.map((r) => r.g)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        break;
      }
      const { rows } = await sql<{ open: number; n: number }>`select
          (select count(*)::integer from pg_cursors) as open, (select count(*)::integer from generate_series(1, 5)) as n`.execute(
        trx,
      );
      return rows[0];
    });
    expect(after).toEqual({ open: 0, n: 5 });
  });
});
