/**
 * A full pass: every record by id (keyset, never offset), resuming the pass of an earlier run where
 * it stopped, each page committed with the pass's position. Pages beyond every id the table holds
 * (a first sync) are written with COPY when the engine has the pool (see postgres/load.ts).
 *
 * A model with more records than ETL_PARTITION_MIN_RECORDS is read as several id ranges at once
 * (partitions of about the same number of records, their bounds found by `search` at offsets), up to
 * ODOO_MAX_CONCURRENCY of them: a real Odoo spends most of a sync's time computing pages, and one
 * page after another leaves its other workers idle. The Odoo client's limiter keeps the requests in
 * flight within ODOO_MAX_CONCURRENCY across every model of the job, whatever the number of
 * partitions. Each partition commits its own resume point with its pages (etl.partitions), so a
 * crash resumes every partition where it stopped; the model's cursor moves only when all are done.
 */
import type { PageRequest, PageSummary } from "../../odoo/pages.js";
import { idAtOffset, type Source, searchCount } from "../../odoo/source.js";
import { type CursorState, EMPTY_PAGE, tableMaxId, writeBatch } from "../../postgres/load.js";
import {
  completePass,
  finishPartition,
  loadPartitions,
  type PartitionRange,
  type PartitionRow,
  startPartitions,
} from "../../postgres/partitions.js";
import { expectRecords, type ModelContext, report, write } from "../model.js";
import { pipeline } from "../pipeline.js";
import type { EtlSettings } from "../types.js";

const seconds = (date: Date | string | null | undefined): number | null =>
  date ? Math.floor(new Date(date).getTime() / 1000) : null;

/** How many partitions a pass over `total` records is read in (1: one stream). */
export function partitionCount(total: number, settings: EtlSettings): number {
  if (settings.partitionMinRecords <= 0 || total <= settings.partitionMinRecords) return 1;
  return Math.max(1, Math.min(settings.odooConcurrency, Math.ceil(total / settings.pageSize)));
}

/**
 * Id ranges holding about `total / parts` records each: partition k ends at the id at offset
 * ⌊(k+1)·total/parts⌋ − 1 in id order (one `search` each, all at once). A bound that no longer
 * exists (records deleted meanwhile) merges its range with the next.
 */
export async function partitionRanges(
  source: Source,
  model: string,
  total: number,
  parts: number,
): Promise<PartitionRange[]> {
  const offsetOf = (k: number) => Math.floor((k * total) / parts);
  const cuts = await Promise.all(
    Array.from({ length: parts - 1 }, (_, k) => idAtOffset(source, model, offsetOf(k + 1) - 1)),
  );
  const ranges: PartitionRange[] = [];
  let afterId = 0;
  let carried = 0;
  for (let k = 0; k < parts; k++) {
    const expected = carried + offsetOf(k + 1) - offsetOf(k);
    const toId = k < parts - 1 ? cuts[k] : null;
    if (toId === undefined || (toId !== null && toId <= afterId)) {
      carried = expected;
      continue;
    }
    carried = 0;
    ranges.push({ afterId, toId, expected });
    if (toId !== null) afterId = toId;
  }
  return ranges;
}

/**
 * Runs the pass, then moves the incremental cursor to the newest write_date it saw, which it
 * returns (in seconds; null when it saw none): records written behind the pass while it ran are
 * newer than that, for an incremental pass to catch up.
 */
export async function fullPass(context: ModelContext, cursor: CursorState): Promise<number | null> {
  const { engine, model } = context;
  const { db, settings } = engine;
  if (cursor.fullInProgress) {
    const parts = await loadPartitions(db, model);
    if (parts.length > 0) {
      const left = parts.filter((p) => p.finished_at === null).length;
      expectRecords(
        context,
        parts.reduce((n, p) => n + p.expected, 0),
        parts.reduce((n, p) => n + p.done, 0),
      );
      context.log.info(
        { partitions: parts.length, left },
        "resuming the partitioned full pass of a previous run",
      );
      return partitionedPass(context, parts);
    }
    const from = cursor.row?.full_last_id ?? 0;
    expectRecords(context, await searchCount(context.source, model, [["id", ">", from]]));
    return sequentialPass(context, cursor);
  }
  const total = await searchCount(context.source, model, []);
  expectRecords(context, total);
  const parts = partitionCount(total, settings);
  if (parts > 1) {
    const ranges = await partitionRanges(context.source, model, total, parts);
    if (ranges.length > 1) {
      const rows = await startPartitions(db, context.lease, model, ranges, {
        full_last_id: 0,
        full_high_water: null,
        full_started_at: new Date(),
        last_run_id: context.run.runId,
      });
      context.log.info({ records: total, partitions: rows.length }, "full pass in partitions");
      return partitionedPass(context, rows);
    }
  }
  return sequentialPass(context, cursor);
}

/** The cursor once a pass is complete: the incremental one continues from the newest write_date it saw. */
const completed = (context: ModelContext, highWater: Date | null) => ({
  ...(highWater !== null ? { write_date: highWater, last_id: null } : {}),
  full_last_id: null,
  full_high_water: null,
  full_started_at: null,
  last_full_at: new Date(),
  last_run_id: context.run.runId,
});

/** One stream by id from the start (or from where an earlier run's pass stopped), its position on the cursor. */
async function sequentialPass(context: ModelContext, cursor: CursorState): Promise<number | null> {
  const { engine, prepared } = context;
  const resuming = cursor.fullInProgress;
  const row = cursor.row;
  let highWater = resuming ? seconds(row?.full_high_water) : null;
  const startedAt = resuming && row?.full_started_at ? new Date(row.full_started_at) : new Date();
  const from = resuming ? (row?.full_last_id ?? 0) : 0;
  if (resuming) context.log.info({ afterId: from }, "resuming the full pass of a previous run");
  // Pages beyond every id the table holds go in with COPY (see postgres/load.ts).
  const copyAbove = engine.pool ? await tableMaxId(engine.db, context.model) : Number.POSITIVE_INFINITY;
  const copyRequest: PageRequest = { ...prepared.request, copy: true };
  const fetchPage = (afterId: number) =>
    engine.reader.full(afterId >= copyAbove ? copyRequest : prepared.request, afterId, context.source);
  const passStarted = performance.now();
  // Pages come in order: each one read every record after the previous one's last id.
  let pageAfter = from;
  await pipeline(
    () => fetchPage(from),
    (last) => {
      const after = last.lastId;
      return last.done || after === null ? null : () => fetchPage(after);
    },
    async (page) => {
      context.counts.fetched += page.fetched;
      context.progress.done += page.fetched;
      if (page.maxSecond !== null && (highWater === null || page.maxSecond > highWater))
        highWater = page.maxSecond;
      report(context, page.problems);
      if (page.lastId === null) return;
      await write(context, page.encoded, {
        cursor: {
          full_last_id: page.lastId,
          full_high_water: highWater === null ? null : new Date(highWater * 1000),
          full_started_at: startedAt,
        },
        problems: page.problems,
        range: { afterId: pageAfter, lastId: page.lastId },
      });
      pageAfter = page.lastId;
    },
  );
  context.phaseMs.fullPass = Math.round(performance.now() - passStarted);
  await writeBatch(engine.db, {
    model: context.model,
    statement: prepared.statement,
    page: EMPTY_PAGE,
    lease: context.lease,
    cursor: completed(context, highWater === null ? null : new Date(highWater * 1000)),
  });
  return highWater;
}

/**
 * The partitions not yet finished, read at once, each from its resume point; when every one is
 * done, the cursor moves. The first partition to fail stops the others (their committed pages
 * stay, for the next run to resume from).
 */
async function partitionedPass(context: ModelContext, parts: PartitionRow[]): Promise<number | null> {
  const { engine } = context;
  const passStarted = performance.now();
  const stop = new AbortController();
  const signal = AbortSignal.any([context.signal, stop.signal]);
  const source: Source = { ...context.source, signal };
  let failure: { error: unknown } | undefined;
  await Promise.all(
    parts
      .filter((part) => part.finished_at === null)
      .map(async (part) => {
        try {
          await readPartition(context, source, signal, part);
        } catch (error) {
          if (!failure) {
            failure = { error };
            stop.abort(error);
          }
        }
      }),
  );
  if (failure) throw failure.error;
  context.phaseMs.fullPass = Math.round(performance.now() - passStarted);
  return completePass(engine.db, context.lease, context.model, (high) => completed(context, high));
}

/** One partition: ids in (after_id, to_id] from its resume point, each page committed with it. */
async function readPartition(
  context: ModelContext,
  source: Source,
  signal: AbortSignal,
  part: PartitionRow,
): Promise<void> {
  const { engine, prepared, model } = context;
  const toId = part.to_id;
  // Each partition's stream reads a page ahead like a model's (one page per stream in flight at
  // the server while its previous one decodes), so the limiter always has the next request waiting.
  const request: PageRequest = { ...prepared.request, ...(toId !== null ? { toId } : {}) };
  const copyRequest: PageRequest = { ...request, copy: true };
  const copyAbove = engine.pool
    ? await tableMaxId(engine.db, model, { afterId: part.after_id, toId })
    : Number.POSITIVE_INFINITY;
  const fetchPage = (afterId: number): Promise<PageSummary> =>
    engine.reader.full(afterId >= copyAbove ? copyRequest : request, afterId, source);
  let highWater = seconds(part.high_water);
  let pageAfter = part.last_id;
  await pipeline(
    () => fetchPage(part.last_id),
    (last) => {
      const after = last.lastId;
      return last.done || after === null ? null : () => fetchPage(after);
    },
    async (page) => {
      if (signal.aborted) throw signal.reason;
      context.counts.fetched += page.fetched;
      context.progress.done += page.fetched;
      if (page.maxSecond !== null && (highWater === null || page.maxSecond > highWater))
        highWater = page.maxSecond;
      report(context, page.problems);
      if (page.lastId === null) return;
      await write(context, page.encoded, {
        partition: {
          part: part.part,
          lastId: page.lastId,
          records: page.fetched,
          highWater: highWater === null ? null : new Date(highWater * 1000),
        },
        problems: page.problems,
        range: { afterId: pageAfter, lastId: page.lastId },
      });
      pageAfter = page.lastId;
    },
  );
  await finishPartition(engine.db, context.lease, model, part.part);
}
