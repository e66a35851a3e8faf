/**
 * An incremental pass: the records written since a second (less ETL_OVERLAP_SECONDS, for commits
 * that land late), by write_date then id, each page committed with the cursor's new position.
 *
 * A window holding more than ETL_PARTITION_MIN_RECORDS records (after a long outage, or a bulk change
 * in Odoo) is split into ranges of whole seconds holding about as many records each (their bounds
 * from the write_date at offsets in the incremental order), read at once like a full pass's
 * partitions. Each range pages exactly like the whole window would (whole seconds, a burst second
 * by id), and the ranges tile the window from the same overlapped start, so neither the late-commit
 * overlap nor the tie-safe order changes. The cursor moves only as far as every record before it is
 * committed: the newest second committed in the first range not yet done (all of it once every
 * range is done).
 */
import type { PageRequest, PageSummary } from "../../odoo/pages.js";
import { odooSecond, type Position, type Source, searchCount, secondAtOffset } from "../../odoo/source.js";
import { EMPTY_PAGE, writeBatch } from "../../postgres/load.js";
import { expectRecords, type ModelContext, report, write } from "../model.js";
import { pipeline } from "../pipeline.js";
import { partitionCount } from "./full.js";

/** A range of the window: write_date seconds in [from, until) (until null: no end). */
interface Range {
  from: number;
  until: number | null;
  /** Newest write_date second committed in it; null before its first page. */
  committed: number | null;
  done: boolean;
}

/**
 * Ranges of whole seconds holding about `total / parts` records each: range k starts at the second
 * of the record at offset ⌊k·total/parts⌋. A bound that is not after the previous one (a second
 * holding many records) merges the two.
 */
async function windowRanges(
  source: Source,
  model: string,
  start: number,
  total: number,
  parts: number,
): Promise<Range[]> {
  const bounds = await Promise.all(
    Array.from({ length: parts - 1 }, (_, k) =>
      secondAtOffset(source, model, start, Math.floor(((k + 1) * total) / parts)),
    ),
  );
  const starts = [start];
  for (const b of bounds) if (b !== undefined && b > (starts.at(-1) as number)) starts.push(b);
  return starts.map((from, k) => ({ from, until: starts[k + 1] ?? null, committed: null, done: false }));
}

export async function incrementalPass(context: ModelContext, cursorSecond: number): Promise<void> {
  const { engine, source, model } = context;
  const start = cursorSecond - engine.settings.overlapSeconds;
  const total = await searchCount(source, model, [["write_date", ">=", odooSecond(start)]]);
  // The main pass of the model's work counts its window for the progress; a catch-up after a full
  // pass re-reads records that pass counted already.
  const counting = context.progress.expected === undefined && expectRecords(context, total);
  const parts = partitionCount(total, engine.settings);
  const ranges =
    parts > 1
      ? await windowRanges(source, model, start, total, parts)
      : [{ from: start, until: null, committed: null, done: false }];
  if (ranges.length > 1)
    context.log.info({ records: total, ranges: ranges.length }, "incremental window in ranges");

  /** The cursor's position once `range` commits up to `second`: as far as everything before is committed. */
  const position = (range: Range, second: number): number | null => {
    let prefix: number | null = null;
    for (const r of ranges) {
      const committed = r === range ? second : r.committed;
      if (committed !== null && (prefix === null || committed > prefix)) prefix = committed;
      if (!r.done) break;
    }
    return prefix;
  };

  const stop = new AbortController();
  const signal = AbortSignal.any([context.signal, stop.signal]);
  const rangeSource: Source = { ...source, signal };
  const read = async (range: Range): Promise<void> => {
    const request: PageRequest = {
      ...context.prepared.request,
      ...(range.until !== null ? { until: range.until } : {}),
    };
    const fetchPage = (from: Position): Promise<PageSummary> =>
      engine.reader.incremental(request, from, rangeSource);
    await pipeline(
      () => fetchPage({ second: range.from, afterId: null }),
      (page) => {
        const next = page.next;
        return page.done || !next ? null : () => fetchPage(next);
      },
      async (page) => {
        if (signal.aborted) throw signal.reason;
        context.counts.fetched += page.fetched;
        if (counting) context.progress.done += page.fetched;
        report(context, page.problems);
        if (page.lastId === null) return;
        const at = page.lastSecond === null ? null : position(range, page.lastSecond);
        await write(context, page.encoded, {
          cursor: {
            ...(at !== null ? { advance_to: new Date(at * 1000), last_id: page.lastId } : {}),
            last_run_id: context.run.runId,
          },
          problems: page.problems,
        });
        if (page.lastSecond !== null) range.committed = page.lastSecond;
      },
    );
    range.done = true;
  };

  let failure: { error: unknown } | undefined;
  await Promise.all(
    ranges.map(async (range) => {
      try {
        await read(range);
      } catch (error) {
        if (!failure) {
          failure = { error };
          stop.abort(error);
        }
      }
    }),
  );
  if (failure) throw failure.error;
  // Every range done: the cursor moves to the newest second committed in any of them.
  const newest = ranges.reduce<number | null>(
    (n, r) => (r.committed !== null && (n === null || r.committed > n) ? r.committed : n),
    null,
  );
  if (ranges.length > 1 && newest !== null)
    await writeBatch(engine.db, {
      model,
      statement: context.prepared.statement,
      page: EMPTY_PAGE,
      lease: context.lease,
      cursor: { advance_to: new Date(newest * 1000), last_run_id: context.run.runId },
    });
}
