/**
 * Deletions: compare counts per id range (Odoo's search_count vs the live local rows), drilling
 * into ranges that differ until they are small enough to compare id by id. A deletion and an
 * unsynced create in one range would cancel out when the create's id is below the highest local
 * one (a late commit): the jobs sync first (the sync job's catch-up after a full pass, the
 * reconcile job's incremental), so only a create committed while the counts run can still hide
 * one, until the next reconciliation. Local ids missing in Odoo are marked _deleted_at; Odoo ids
 * missing locally (or marked deleted) are read and upserted.
 */
import { maxId, searchCount, searchIds } from "../../odoo/source.js";
import { localCount, localIds, localMaxId, markDeleted, patchCursor } from "../../postgres/load.js";
import { encode, type ModelContext, readIds, write } from "../model.js";
import { eachLimited } from "../pipeline.js";

export async function reconcilePass(context: ModelContext): Promise<void> {
  const { engine, model, source } = context;
  const { db, settings } = engine;
  context.run.update(model, {}, true);
  // Ranges are counted over the ids held locally, then the ids above them apart: records created
  // since the last sync have the highest ids, and counted in one range with a deletion their +1
  // would cancel its -1.
  const localTop = (await localMaxId(db, model)) + 1;
  const remoteTop = (await maxId(source, model)) + 1;
  const visit = async (lo: number, hi: number): Promise<void> => {
    if (context.signal.aborted) throw context.signal.reason;
    const domain = [
      ["id", ">=", lo],
      ["id", "<", hi],
    ] as const;
    const [remote, local] = await Promise.all([
      searchCount(source, model, domain),
      localCount(db, model, lo, hi),
    ]);
    if (remote === local) return;
    if (hi - lo <= settings.reconcileLeafSize || remote + local <= settings.reconcileLeafSize) {
      const [remoteIds, localIdList] = await Promise.all([
        searchIds(source, model, domain),
        localIds(db, model, lo, hi),
      ]);
      const remoteSet = new Set(remoteIds);
      const localSet = new Set(localIdList);
      const gone = localIdList.filter((id) => !remoteSet.has(id));
      const absent = remoteIds.filter((id) => !localSet.has(id));
      context.counts.deleted += await markDeleted(db, model, gone, context.lease);
      for (let i = 0; i < absent.length; i += settings.pageSize) {
        const records = await readIds(context, absent.slice(i, i + settings.pageSize));
        context.counts.fetched += records.length;
        const { page, problems } = encode(context, records);
        await write(context, page, { problems });
      }
      context.run.update(model, { ...context.counts });
      return;
    }
    const parts = 8;
    const step = Math.ceil((hi - lo) / parts);
    for (let a = lo; a < hi; a += step) await visit(a, Math.min(hi, a + step));
  };
  // The top ranges are counted side by side (the Odoo client's limiter keeps the requests in flight
  // within ODOO_MAX_CONCURRENCY): one count after another would cost a round trip each.
  const step = Math.max(1, Math.ceil(localTop / 16));
  const ranges: [number, number][] = [];
  for (let a = 0; a < localTop; a += step) ranges.push([a, Math.min(localTop, a + step)]);
  if (remoteTop > localTop) ranges.push([localTop, remoteTop]);
  await eachLimited(ranges, Math.max(1, settings.odooConcurrency), ([lo, hi]) => visit(lo, hi));
  await patchCursor(db, model, { last_reconciled_at: new Date() });
}
