/**
 * Records an earlier run left out (listed in etl.rejected: a value PostgreSQL cannot store) read
 * again: written if Odoo's value can now be stored (they leave the list with that page), listed
 * again if not, marked deleted if Odoo no longer has them. At most REJECTED_PER_RUN per run, lowest
 * ids first; ones this run already read again (its passes met them) are not read twice.
 */
import { markDeleted } from "../../postgres/load.js";
import { rejectedIds } from "../../postgres/rejected.js";
import { encode, type ModelContext, readIds, write } from "../model.js";

export const REJECTED_PER_RUN = 10_000;

export async function rejectedPass(context: ModelContext): Promise<void> {
  if (!context.rejections.listed) return;
  const { engine, model } = context;
  const ids = await rejectedIds(engine.db, model, context.run.runId, REJECTED_PER_RUN);
  if (ids.length === 0) return;
  context.log.info({ records: ids.length }, "reading again the records earlier runs could not write");
  const size = engine.settings.pageSize;
  for (let i = 0; i < ids.length; i += size) {
    const chunk = ids.slice(i, i + size);
    const records = await readIds(context, chunk);
    context.counts.fetched += records.length;
    const { page, problems } = encode(context, records);
    await write(context, page, { problems });
    const found = new Set(records.map((r) => r.id));
    context.counts.deleted += await markDeleted(
      engine.db,
      model,
      chunk.filter((id) => !found.has(id)),
      context.lease,
    );
  }
}
