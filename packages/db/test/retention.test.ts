import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDb,
  type Db,
  migrateToLatest,
  purgeEtlRuns,
  purgeMailings,
  purgeRefreshTokens,
} from "../src/index.js";

const BASE = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `finanzas_retention_${randomBytes(4).toString("hex")}`;
const url = (() => {
  const u = new URL(BASE);
  u.pathname = `/${name}`;
  return u.toString();
})();
let database: Db;
const q = (text: string, params: unknown[] = []) => database.pool.query(text, params);
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);

beforeAll(async () => {
  await migrateToLatest(url);
  database = createDb({ url, max: 2 });
}, 60_000);

afterAll(async () => {
  await database?.close();
  const admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

describe("refresh tokens", () => {
  it("deletes those expired or revoked beyond the retention, in batches, and keeps the rest", async () => {
    const user = (
      await q(
        "insert into app.users (email, role, password_hash) values ('r@example.com', 'viewer', 'h') returning id",
      )
    ).rows[0].id as string;
    const token = async (label: string, expires: Date, revoked: Date | null) =>
      q(
        "insert into app.refresh_tokens (id, user_id, family_id, token_hash, expires_at, revoked_at) values ($1, $2, $3, $4, $5, $6)",
        [randomUUID(), user, randomUUID(), label, expires, revoked],
      );
    for (let i = 0; i < 7; i++) await token(`old-expired-${i}`, daysAgo(40), null);
    await token("old-revoked", daysAgo(-20), daysAgo(35));
    await token("live", daysAgo(-20), null);
    await token("recently-expired", daysAgo(5), null);
    await token("recently-revoked", daysAgo(-20), daysAgo(2));

    const deleted = await purgeRefreshTokens(database.db, { retentionDays: 30, batchSize: 3 });
    expect(deleted).toBe(8);
    const left = (await q("select token_hash from app.refresh_tokens order by token_hash")).rows.map(
      (r) => r.token_hash,
    );
    expect(left).toEqual(["live", "recently-expired", "recently-revoked"]);
    expect(await purgeRefreshTokens(database.db, { retentionDays: 30 })).toBe(0);
  });
});

describe("ETL runs", () => {
  const run = async (job: string, status: string, finished: Date | null, upserted = 0) =>
    Number(
      (
        await q(
          `insert into etl.runs (job, models, status, upserted, created_at, finished_at)
           values ($1, '{res.partner}', $2, $3, coalesce($4, now()), $4) returning id`,
          [job, status, upserted, finished],
        )
      ).rows[0].id,
    );

  it("deletes old finished runs with their models, keeping what the ETL and the API still read", async () => {
    const oldSync = await run("sync", "succeeded", daysAgo(200), 5);
    await q("insert into etl.run_models (run_id, model, status) values ($1, 'res.partner', 'succeeded')", [
      oldSync,
    ]);
    const oldFailed = await run("sync", "failed", daysAgo(150));
    const cursorRun = await run("sync", "succeeded", daysAgo(140));
    await q("insert into etl.cursors (model, last_run_id) values ('res.partner', $1)", [cursorRun]);
    const rejectedRun = await run("sync", "succeeded", daysAgo(130));
    await q(
      "insert into etl.rejected (model, id, problems, first_run_id) values ('res.partner', 7, '[]', $1)",
      [rejectedRun],
    );
    // the last run that changed data: its end is the synced data's version (report reuse)
    const lastChange = await run("sync", "succeeded", daysAgo(120), 3);
    const olderSync = await run("sync", "succeeded", daysAgo(100));
    // the only, hence latest, reconciliation: kept however old
    const onlyReconcile = await run("reconcile-deletions", "succeeded", daysAgo(300));
    const stuck = await run("sync", "running", null);
    const recent = await run("sync", "succeeded", daysAgo(3));

    const deleted = await purgeEtlRuns(database.db, { retentionDays: 90, batchSize: 1 });
    expect(deleted).toBe(3);
    const left = (await q("select id from etl.runs order by id")).rows.map((r) => Number(r.id));
    expect(left).toEqual([cursorRun, rejectedRun, lastChange, onlyReconcile, stuck, recent]);
    for (const gone of [oldSync, oldFailed, olderSync]) expect(left).not.toContain(gone);
    expect((await q("select count(*)::int as n from etl.run_models")).rows[0].n).toBe(0);
    expect(await purgeEtlRuns(database.db, { retentionDays: 90 })).toBe(0);
  });
});

describe("mail records", () => {
  it("deletes finished mailings beyond the retention with their outbox, never suppressions nor unfinished ones", async () => {
    const mailing = async (status: string, finished: Date | null, messages: number) => {
      const id = randomUUID();
      await q(
        `insert into mail.mailings (id, kind, params, status, as_of, created_at, finished_at)
         values ($1, 'statement', '{}', $2, current_date, coalesce($3, now()), $3)`,
        [id, status, finished],
      );
      for (let i = 0; i < messages; i++) {
        await q(
          "insert into mail.messages (id, mailing_id, partner_id, context, state, message_id) values ($1, $2, $3, '{}', 'sent', $4)",
          [randomUUID(), id, i + 1, `${id}-${i}`],
        );
      }
      return id;
    };
    const oldDone = await mailing("done", daysAgo(400), 5);
    const oldFailed = await mailing("failed", daysAgo(500), 1);
    const recentDone = await mailing("done", daysAgo(10), 2);
    const oldSending = await mailing("sending", null, 2);
    await q("update mail.mailings set created_at = $2 where id = $1", [oldSending, daysAgo(600)]);
    await q(
      "insert into mail.suppressions (email, reason, created_at) values ('gone@example.com', 'bounced', $1)",
      [daysAgo(900)],
    );

    const purged = await purgeMailings(database.db, { retentionDays: 365, batchSize: 2 });
    expect(purged).toEqual({ mailings: 2, messages: 6 });
    const left = (await q("select id from mail.mailings")).rows.map((r) => r.id).sort();
    expect(left).toEqual([recentDone, oldSending].sort());
    expect(left).not.toContain(oldDone);
    expect(left).not.toContain(oldFailed);
    expect((await q("select count(*)::int as n from mail.messages")).rows[0].n).toBe(4);
    expect((await q("select email from mail.suppressions")).rows).toEqual([{ email: "gone@example.com" }]);
    expect(await purgeMailings(database.db, { retentionDays: 365 })).toEqual({ mailings: 0, messages: 0 });
  });
});
