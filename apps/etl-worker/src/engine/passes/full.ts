/**
 * A full pass: every record by id (keyset, never offset), resuming the pass of an earlier run where
 * it stopped, each page committed with the pass's position. Pages beyond every id the table holds
 * (a first sync) are written with COPY when the engine has the pool (see postgres/load.ts).
 */
import type { PageRequest } from "../../odoo/pages.js";
import { type CursorState, EMPTY_PAGE, tableMaxId, writeBatch } from "../../postgres/load.js";
import { type ModelContext, report, write } from "../model.js";
import { pipeline } from "../pipeline.js";

/**
 * Runs the pass, then moves the incremental cursor to the newest write_date it saw, which it
 * returns (in seconds; null when it saw none): records written behind the pass while it ran are
 * newer than that, for an incremental pass to catch up.
 */
export async function fullPass(context: ModelContext, cursor: CursorState): Promise<number | null> {
  const { engine, prepared } = context;
  const resuming = cursor.fullInProgress;
  const row = cursor.row;
  let highWater: number | null =
    resuming && row?.full_high_water ? Math.floor(new Date(row.full_high_water).getTime() / 1000) : null;
  const startedAt = resuming && row?.full_started_at ? new Date(row.full_started_at) : new Date();
  const from = resuming ? (row?.full_last_id ?? 0) : 0;
  if (resuming) context.log.info({ afterId: from }, "resuming the full pass of a previous run");
  // Pages beyond every id the table holds go in with COPY (see postgres/load.ts).
  const copyAbove = engine.pool ? await tableMaxId(engine.db, context.model) : Number.POSITIVE_INFINITY;
  const copyRequest: PageRequest = { ...prepared.request, copy: true };
  const fetchPage = (afterId: number) =>
    engine.reader.full(afterId >= copyAbove ? copyRequest : prepared.request, afterId, context.source);
  const passStarted = performance.now();
  await pipeline(
    () => fetchPage(from),
    (last) => {
      const after = last.lastId;
      return last.done || after === null ? null : () => fetchPage(after);
    },
    async (page) => {
      context.counts.fetched += page.fetched;
      if (page.maxSecond !== null && (highWater === null || page.maxSecond > highWater))
        highWater = page.maxSecond;
      report(context, page.problems);
      if (page.lastId === null) return;
      await write(context, page.encoded, {
        full_last_id: page.lastId,
        full_high_water: highWater === null ? null : new Date(highWater * 1000),
        full_started_at: startedAt,
      });
    },
  );
  context.phaseMs.fullPass = Math.round(performance.now() - passStarted);
  // The pass is complete: the incremental cursor continues from the newest write_date it saw.
  await writeBatch(engine.db, {
    model: context.model,
    statement: prepared.statement,
    page: EMPTY_PAGE,
    lease: context.lease,
    cursor: {
      ...(highWater !== null ? { write_date: new Date(highWater * 1000), last_id: null } : {}),
      full_last_id: null,
      full_high_water: null,
      full_started_at: null,
      last_full_at: new Date(),
      last_run_id: context.run.runId,
    },
  });
  return highWater;
}
