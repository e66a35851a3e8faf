#!/usr/bin/env node
/**
 * `pnpm etl:run [--full] [--models a,b]`: enqueues a sync through the contracts' producer, shows its
 * progress, exits 0 when it succeeded and 1 with the reason when it failed.
 * `pnpm etl:status`: per model, the cursor, the last success, the row count and the lag.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { etlQueue, type RunProgress, type RunResult, type RunStatus } from "@finanzas/contracts";
import { createDb, sql } from "@finanzas/db";
import { MODEL_NAMES, tableOf } from "@finanzas/ledger";
import { createProducer, QueueEvents, redisOptions } from "@finanzas/queue";
import { readCliConfig } from "./config.js";
import { type RecordedModel, watchRecord } from "./follow.js";

const out = (line: string) => process.stdout.write(`${line}\n`);
const fail = (message: string): never => {
  process.stderr.write(`etl: ${message}\n`);
  process.exit(1);
};

/** How the progress and the outcome show a model's status. */
const MARK: Record<RunStatus, string> = { queued: "·", running: "…", succeeded: "✓", failed: "✗" };

const USAGE = `usage:
  pnpm etl:run [--full] [--models account.move,account.move.line]   enqueue a sync and follow it
  pnpm etl:status                                                    cursor, last success, rows and lag per model`;

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      full: { type: "boolean", default: false },
      models: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const models = values.models
    ?.split(",")
    .map((m) => m.trim())
    .filter(Boolean);
  const unknown = models?.filter((m) => !MODEL_NAMES.includes(m)) ?? [];
  if (unknown.length) fail(`unknown model(s) ${unknown.join(", ")}; known: ${MODEL_NAMES.join(", ")}`);
  const config = readCliConfig(process.env);
  const connection = { redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX };
  const events = new QueueEvents(etlQueue.name, {
    connection: redisOptions(config.REDIS_URL, "worker"),
    prefix: config.QUEUE_PREFIX,
  });
  const producer = createProducer(etlQueue, connection);
  // The run record, for when the queue cannot tell the outcome (a job Redis lost, Redis not answering).
  const database = createDb({ url: config.DATABASE_URL, max: 1, applicationName: "etl-run" });
  try {
    await events.waitUntilReady();
    const mode = values.full ? "full" : "incremental";
    // One attempt: a person is watching and gets the reason now rather than after the retries. A
    // job id of its own: Redis's counter starts again after it lost its data, and the run record is
    // found by job id.
    const { id } = await producer.add(
      "sync",
      { mode, ...(models?.length ? { models } : {}), requestedBy: "cli" },
      { attempts: 1, jobId: `cli-sync-${randomUUID()}` },
    );
    out(`enqueued ${mode} sync of ${models?.length ? models.join(", ") : "every model"} (job ${id})`);
    const job = await producer.queue.getJob(id);
    if (!job) return fail(`job ${id} vanished from the queue`);
    let lastLine = "";
    events.on("progress", ({ jobId, data }) => {
      if (jobId !== id || typeof data !== "object" || data === null) return;
      const progress = data as RunProgress;
      // Records done over records expected (each counted once); reads and writes when a job cannot count ahead.
      const line = Object.entries(progress.models)
        .map(
          ([m, p]) =>
            `${m} ${MARK[p.status]} ${
              p.expected !== undefined ? `${p.done ?? 0}/${p.expected}` : `${p.fetched}/${p.upserted}`
            }${p.deleted ? ` -${p.deleted}` : ""}`,
        )
        .join("  ");
      if (line !== lastLine) out(`[run ${progress.runId}] ${line}`);
      lastLine = line;
    });
    const waiting = setTimeout(
      () =>
        out("still waiting for an etl-worker to take the job: is etl-worker running with this QUEUE_PREFIX?"),
      10_000,
    );
    const watching = new AbortController();
    const finished = job.waitUntilFinished(events);
    try {
      const outcome = await Promise.race([
        finished.then((result) => ({ kind: "result" as const, result: result as RunResult })),
        watchRecord({
          db: database.db,
          jobId: id,
          getJob: () => producer.queue.getJob(id),
          everyMs: 2_000,
          signal: watching.signal,
          onFollowing: (runId) => {
            clearTimeout(waiting);
            out(`job ${id} is no longer in Redis (Redis lost it); following run #${runId} in PostgreSQL`);
          },
        }).then((verdict) => verdict ?? new Promise<never>(() => {})),
      ]);
      clearTimeout(waiting);
      if (outcome.kind === "lost") {
        process.stderr.write(
          `etl: job ${id} was lost from Redis before an etl-worker started it (Redis restarted without persistence, or was flushed): no run of it exists and nothing was synced; run the command again\n`,
        );
        return 1;
      }
      const result =
        outcome.kind === "result"
          ? { ...outcome.result, models: outcome.result.models.map(modelLine) }
          : {
              runId: outcome.run.runId,
              status: outcome.run.status,
              ms: outcome.run.ms ?? 0,
              models: outcome.run.models.map(recordedLine),
            };
      for (const line of result.models) out(line);
      if (outcome.kind === "recorded") {
        out(
          `(from run #${outcome.run.runId}'s record in PostgreSQL: ${
            outcome.queue === "missing" ? "Redis lost the job while it ran" : "Redis is not answering"
          }; the run itself ${outcome.run.status})`,
        );
        if (outcome.run.error) out(`    ${outcome.run.error}`);
      }
      out(`run ${result.runId} ${result.status} in ${(result.ms / 1000).toFixed(1)} s`);
      return result.status === "succeeded" ? 0 : 1;
    } catch (error) {
      clearTimeout(waiting);
      process.stderr.write(`etl: sync failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    } finally {
      watching.abort();
      finished.catch(() => {}); // decided by the record: the queue's word no longer matters
    }
  } finally {
    await producer.close();
    await events.close();
    await database.close();
  }
}

/** A model's line of the outcome, from the job's result. */
const modelLine = (m: RunResult["models"][number]): string =>
  `${MARK[m.status]} ${m.model.padEnd(26)} fetched ${m.fetched}, upserted ${m.upserted}, deleted ${m.deleted}` +
  (m.missingFields.length ? ` (missing on this Odoo: ${m.missingFields.join(", ")})` : "") +
  (m.rejected
    ? `\n    ${m.rejected} record(s) not written, a value PostgreSQL cannot store (listed in etl.rejected, read again by the next sync):` +
      (m.rejectedRecords ?? []).map((r) => `\n      id ${r.id} ${r.field}: ${r.reason}`).join("")
    : "") +
  (m.error ? `\n    ${m.error}` : "");

/** A model's line of the outcome, from the run record (etl.run_models). */
const recordedLine = (m: RecordedModel): string =>
  `${MARK[m.status]} ${m.model.padEnd(26)} fetched ${m.fetched}, upserted ${m.upserted}, deleted ${m.deleted}` +
  (m.missingFields.length ? ` (missing on this Odoo: ${m.missingFields.join(", ")})` : "") +
  (m.rejected
    ? `\n    ${m.rejected} record(s) not written (listed in etl.rejected, read again by the next sync)`
    : "") +
  (m.error ? `\n    ${m.error}` : "");

const ago = (date: Date | null, now: number): string => {
  if (!date) return "-";
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86_400)} d`;
};

async function status(): Promise<number> {
  const config = readCliConfig(process.env);
  const database = createDb({ url: config.DATABASE_URL, max: 2, applicationName: "etl-status" });
  try {
    const cursors = await database.db.selectFrom("etl.cursors").selectAll().execute();
    const byModel = new Map(cursors.map((c) => [c.model, c]));
    const parts = await database.db
      .selectFrom("etl.partitions")
      .select([
        "model",
        sql<number>`count(*)::int`.as("n"),
        sql<number>`sum(done)::int`.as("done"),
        sql<number>`sum(expected)::int`.as("expected"),
      ])
      .groupBy("model")
      .execute();
    const partsOf = new Map(parts.map((p) => [p.model, p]));
    const rejected = new Map(
      (
        await database.db
          .selectFrom("etl.rejected")
          .select(["model", sql<number>`count(*)::int`.as("n")])
          .groupBy("model")
          .execute()
      ).map((r) => [r.model, r.n]),
    );
    const now = Date.now();
    const header = ["model", "cursor (write_date)", "last success", "rows", "deleted", "lag", "state"];
    const rows: string[][] = [];
    for (const model of MODEL_NAMES) {
      const c = byModel.get(model);
      let live = "-";
      let deleted = "-";
      try {
        const { rows: counts } = await sql<{ live: number; deleted: number }>`select
            count(*) filter (where _deleted_at is null)::int as live,
            count(*) filter (where _deleted_at is not null)::int as deleted
          from ${sql.table(`odoo.${tableOf(model)}`)}`.execute(database.db);
        live = String(counts[0]?.live ?? 0);
        deleted = String(counts[0]?.deleted ?? 0);
      } catch {
        // the table appears when etl-worker first starts
      }
      const lastSuccess = c?.last_success_at ? new Date(c.last_success_at) : null;
      rows.push([
        model,
        c?.write_date ? new Date(c.write_date).toISOString().replace(".000Z", "Z") : "-",
        lastSuccess ? lastSuccess.toISOString().replace(/\.\d+Z$/, "Z") : "never",
        live,
        deleted,
        ago(lastSuccess, now),
        [
          c?.absent_at
            ? "not on this Odoo (optional model, skipped)"
            : partsOf.has(model)
              ? `full pass in ${partsOf.get(model)?.n} partitions, ${partsOf.get(model)?.done}/${partsOf.get(model)?.expected} records`
              : c?.full_last_id !== null && c?.full_last_id !== undefined
                ? `full pass at id ${c.full_last_id}`
                : "",
          rejected.get(model) ? `${rejected.get(model)} record(s) not written (etl.rejected)` : "",
        ]
          .filter(Boolean)
          .join("; "),
      ]);
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const fmt = (r: string[]) =>
      r
        .map((v, i) => v.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd();
    out(fmt(header));
    for (const r of rows) out(fmt(r));
    const last = await database.db
      .selectFrom("etl.runs")
      .select(["id", "job", "mode", "status", "created_at", "finished_at", "error"])
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    if (last) {
      out(
        `\nlast run: #${last.id} ${last.job}${last.mode ? ` (${last.mode})` : ""} ${last.status}, started ${ago(new Date(last.created_at), now)} ago` +
          (last.error ? `\n  ${last.error.split("\n").join("\n  ")}` : ""),
      );
    }
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "42P01") return fail("the etl tables do not exist: run `pnpm db:migrate` first");
    return fail(error instanceof Error ? error.message : String(error));
  } finally {
    await database.close();
  }
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command !== "run" && command !== "status") {
    out(USAGE);
    process.exit(2);
  }
  process.exit(command === "run" ? await run(rest) : await status());
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
