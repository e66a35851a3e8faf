import pg from "pg";
import { describe, expect, it } from "vitest";
import { createDb, isConnectionError, sql } from "../src/index.js";

const BASE = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Ends one backend of this test's own (by pid) from another connection, as an operator would. */
async function terminate(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  try {
    await admin.query("select pg_terminate_backend($1)", [pid]);
  } finally {
    await admin.end();
  }
}

describe("pooled connections that fail", () => {
  it("a connection lost while a transaction holds it rejects the transaction, is reported once, and never crashes the process", async () => {
    const lost: Error[] = [];
    const database = createDb({ url: BASE, max: 2, onConnectionError: (error) => lost.push(error) });
    try {
      const failed = await database.db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
          await terminate(rows[0]!.pid);
          // The termination arrives while the transaction sits between statements: before pool
          // clients had a listener of their own, this 'error' event was an uncaught exception.
          await new Promise((r) => setTimeout(r, 300));
          await sql`select 1`.execute(trx);
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failed).toBeInstanceOf(Error);
      expect(isConnectionError(failed)).toBe(true);
      expect(lost).toHaveLength(1);
      expect((lost[0] as { code?: string }).code).toBe("57P01");
      // the broken connection was dropped: the next statement gets a new one
      const { rows } = await database.pool.query<{ ok: number }>("select 1 as ok");
      expect(rows[0]!.ok).toBe(1);
    } finally {
      await database.close();
    }
  });

  it("a connection lost under a running statement rejects that statement only", async () => {
    const database = createDb({ url: BASE, max: 2 });
    try {
      const client = await database.pool.connect();
      const pid = (await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
      const running = client.query("select pg_sleep(5)").then(
        () => undefined,
        (error: unknown) => error,
      );
      await new Promise((r) => setTimeout(r, 200));
      await terminate(pid);
      const error = await running;
      expect(isConnectionError(error), String(error)).toBe(true);
      client.release(error as Error);
      expect((await database.pool.query("select 2 as two")).rows[0].two).toBe(2);
    } finally {
      await database.close();
    }
  });

  it("starts each connection with the statement and idle-transaction timeouts, and keepalive on", async () => {
    const database = createDb({ url: BASE, max: 1, statementTimeoutMs: 250 });
    try {
      const { rows } = await database.pool.query<{ statement: string; idle: string }>(
        "select current_setting('statement_timeout') as statement, current_setting('idle_in_transaction_session_timeout') as idle",
      );
      expect(rows[0]).toEqual({ statement: "250ms", idle: "250ms" });
      const slow = await database.pool.query("select pg_sleep(2)").then(
        () => undefined,
        (error: unknown) => error as { code?: string },
      );
      expect(slow?.code).toBe("57014");
      expect(isConnectionError(slow)).toBe(false);
      expect((database.pool as unknown as { options: { keepAlive?: boolean } }).options.keepAlive).toBe(true);
    } finally {
      await database.close();
    }
    // 0: the server's own settings, nothing sent
    const plain = createDb({ url: BASE, max: 1, statementTimeoutMs: 0 });
    try {
      const { rows } = await plain.pool.query<{ s: string }>(
        "select current_setting('statement_timeout') as s",
      );
      expect(rows[0]!.s).toBe("0");
    } finally {
      await plain.close();
    }
  });

  it("tells connection failures from statement errors", async () => {
    const refused = createDb({
      url: "postgres://postgres@127.0.0.1:1/x",
      max: 1,
      connectionTimeoutMillis: 2_000,
    });
    const error = await refused.pool.query("select 1").then(
      () => undefined,
      (e: unknown) => e,
    );
    await refused.close();
    expect(isConnectionError(error), String(error)).toBe(true);
    expect(isConnectionError(Object.assign(new Error("x"), { code: "57P03" }))).toBe(true);
    expect(isConnectionError(new Error("timeout exceeded when trying to connect"))).toBe(true);
    expect(
      isConnectionError(new Error("x", { cause: new Error("Connection terminated unexpectedly") })),
    ).toBe(true);
    expect(isConnectionError(Object.assign(new Error("duplicate key"), { code: "23505" }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error("canceled"), { code: "57014" }))).toBe(false);
  });
});
