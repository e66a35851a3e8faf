import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { createDb, type Db } from "@finanzas/db";
import { createTestDatabase, type TestDatabase } from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLease, LeaseLostError } from "../src/postgres/load.js";
import { holderIsDead, keepAlive, ownerId, tryAcquire } from "../src/postgres/locks.js";

describe("knowing a lease holder dead", () => {
  const tags = ownerId().split(";").slice(1).join(";");
  const start = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  };

  it("is sure only of a process on this host, in this pid namespace, that is gone or was replaced", async () => {
    expect(tags).toMatch(/^ns=\d+;start=\d+$/);
    const ns = /ns=(\d+)/.exec(tags)![1];
    // This process, alive.
    expect(holderIsDead(ownerId())).toBe(false);
    // A process that ran here and exited.
    const child = spawn("sleep", ["30"]);
    const pid = child.pid!;
    const owner = `${hostname()}:${pid}:abcd1234;ns=${ns};start=${start(pid)}`;
    expect(holderIsDead(owner)).toBe(false);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(holderIsDead(owner)).toBe(true);
    // Its pid taken by a process started at another time.
    expect(holderIsDead(`${hostname()}:${process.pid}1:abcd1234;ns=${ns};start=1`)).toBe(true);
    const other = `${hostname()}:${process.ppid}:abcd1234;ns=${ns};start=${Number(start(process.ppid)) + 1}`;
    expect(holderIsDead(other)).toBe(true);
    // Not known: another host, another namespace, an owner without the tags.
    expect(holderIsDead(`elsewhere:${pid}:abcd1234;ns=${ns};start=1`)).toBe(false);
    expect(holderIsDead(`${hostname()}:${pid}:abcd1234;ns=1;start=1`)).toBe(false);
    expect(holderIsDead(`${hostname()}:${pid}:abcd1234`)).toBe(false);
  });
});

describe("a lease taken over", () => {
  let database: TestDatabase;
  let store: Db;
  beforeAll(async () => {
    database = await createTestDatabase("etl_locks");
    store = createDb({ url: database.url, max: 6 });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it("waits for the holder's batch in flight, then no batch of the holder commits; its heartbeat learns it lost", async () => {
    const model = "res.partner";
    const a = await tryAcquire(store.db, model, "host-a:1:aaaa", 1, 1);
    expect(a).not.toBeNull();
    // A batch of the holder, in flight: its lease check done, not committed yet.
    let commit: () => void = () => {};
    const committed = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let checked: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => {
      checked = resolve;
    });
    const batch = store.db.transaction().execute(async (trx) => {
      await checkLease(trx, a!);
      checked();
      await committed;
    });
    await inFlight;
    // The holder's heartbeat renews alongside its batches: it does not wait for them.
    const renewed = await Promise.race([
      store.pool
        .query("update etl.locks set expires_at = now() + interval '1 second' where model = $1", [model])
        .then(() => true),
      new Promise((r) => setTimeout(() => r(false), 2000)),
    ]);
    expect(renewed).toBe(true);
    await new Promise((r) => setTimeout(r, 1200)); // the lease expires
    let taken = false;
    const takeover = tryAcquire(store.db, model, "host-b:2:bbbb", 2, 30).then((lease) => {
      taken = true;
      return lease;
    });
    await new Promise((r) => setTimeout(r, 400));
    expect(taken).toBe(false); // a batch in flight: the takeover waits for it
    commit();
    await batch;
    const b = await takeover;
    expect(b?.owner).toBe("host-b:2:bbbb");
    // The old holder's next batch fails; the new one's commits.
    await expect(store.db.transaction().execute((trx) => checkLease(trx, a!))).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    await store.db.transaction().execute((trx) => checkLease(trx, b!));
    const lost = await new Promise<Error>((resolve) => {
      const stop = keepAlive(store.db, a!, (error) => {
        stop();
        resolve(error);
      });
    });
    expect(lost.message).toMatch(/lost the lock on res\.partner/);
  });

  it("takes over a holder known dead at once, before its lease expires, and fails its run", async () => {
    const model = "account.journal";
    const child = spawn("sleep", ["30"]);
    const pid = child.pid!;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ns = /ns=(\d+)/.exec(ownerId())![1];
    const owner = `${hostname()}:${pid}:dead0000;ns=${ns};start=${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
    const { rows } = await store.pool.query(
      "insert into etl.runs (job, mode, models, status) values ('sync', 'full', '{account.journal}', 'running') returning id",
    );
    const runId = Number(rows[0].id);
    await store.pool.query(
      "insert into etl.run_models (run_id, model, status) values ($1, 'account.journal', 'running')",
      [runId],
    );
    expect(await tryAcquire(store.db, model, owner, runId, 60)).not.toBeNull();
    // Alive: the lease holds.
    expect(await tryAcquire(store.db, model, ownerId(), runId + 1, 60)).toBeNull();
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const lease = await tryAcquire(store.db, model, ownerId(), runId + 1, 60);
    expect(lease).not.toBeNull();
    const failed = await store.pool.query(
      "select m.status, m.error, r.status as run from etl.run_models m join etl.runs r on r.id = m.run_id where m.run_id = $1",
      [runId],
    );
    expect(failed.rows[0]).toEqual({
      status: "failed",
      error: "worker lost (its process is gone)",
      run: "failed",
    });
  });
});
