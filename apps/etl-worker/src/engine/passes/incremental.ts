/**
 * An incremental pass: the records written since a second (less ETL_OVERLAP_SECONDS, for commits
 * that land late), by write_date then id, each page committed with the cursor's new position.
 */
import { odooSecond, type Position, searchCount } from "../../odoo/source.js";
import { expectRecords, type ModelContext, report, write } from "../model.js";
import { pipeline } from "../pipeline.js";

export async function incrementalPass(context: ModelContext, cursorSecond: number): Promise<void> {
  const { engine, prepared, source } = context;
  const start: Position = { second: cursorSecond - engine.settings.overlapSeconds, afterId: null };
  // The main pass of the model's work counts its window for the progress; a catch-up after a full
  // pass re-reads records that pass counted already.
  const counting =
    context.progress.expected === undefined &&
    expectRecords(
      context,
      await searchCount(source, context.model, [["write_date", ">=", odooSecond(start.second)]]),
    );
  await pipeline(
    () => engine.reader.incremental(prepared.request, start, source),
    (page) => {
      const next = page.next;
      return page.done || !next ? null : () => engine.reader.incremental(prepared.request, next, source);
    },
    async (page) => {
      context.counts.fetched += page.fetched;
      if (counting) context.progress.done += page.fetched;
      report(context, page.problems);
      if (page.lastId === null) return;
      await write(context, page.encoded, {
        ...(page.lastSecond !== null
          ? { write_date: new Date(page.lastSecond * 1000), last_id: page.lastId }
          : {}),
        last_run_id: context.run.runId,
      });
    },
  );
}
