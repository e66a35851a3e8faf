/** Some records of a model read now and written; the ids Odoo no longer has are marked deleted. */
import { markDeleted } from "../../postgres/load.js";
import { encode, type ModelContext, readIds, write } from "../model.js";

export async function recordsPass(context: ModelContext, ids: readonly number[]): Promise<void> {
  const unique = [...new Set(ids)];
  const records = await readIds(context, unique);
  context.counts.fetched += records.length;
  const { page, problems } = encode(context, records);
  await write(context, page, { problems });
  const found = new Set(records.map((r) => r.id));
  context.counts.deleted += await markDeleted(
    context.engine.db,
    context.model,
    unique.filter((id) => !found.has(id)),
    context.lease,
  );
}
