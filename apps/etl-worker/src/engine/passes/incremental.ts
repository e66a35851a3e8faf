/**
 * An incremental pass: the records written since a second (less ETL_OVERLAP_SECONDS, for commits
 * that land late), by write_date then id, each page committed with the cursor's new position.
 */
import type { Position } from "../../odoo/source.js";
import { type ModelContext, report, write } from "../model.js";
import { pipeline } from "../pipeline.js";

export async function incrementalPass(context: ModelContext, cursorSecond: number): Promise<void> {
  const { engine, prepared, source } = context;
  const start: Position = { second: cursorSecond - engine.settings.overlapSeconds, afterId: null };
  await pipeline(
    () => engine.reader.incremental(prepared.request, start, source),
    (page) => {
      const next = page.next;
      return page.done || !next ? null : () => engine.reader.incremental(prepared.request, next, source);
    },
    async (page) => {
      context.counts.fetched += page.fetched;
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
