/**
 * The two baselines of bench/etl/run.ts, in their own process so each is measured alone:
 *   read-only  the same pages the full sync fetches (keyset by id, same page size, same model
 *              concurrency, one page ahead per model), decoded into records by the Odoo client's
 *              searchRead and discarded: the source's ceiling for any program using the client
 *   read-only-stream  the same, decoded as the sync decodes (searchReadPage: straight from the
 *              answer's text into a visitor, many2one names stepped over) into a visitor that
 *              keeps nothing: the cheapest read of these pages this code knows
 *   per-row    the same pages, mapped the same way, written one INSERT … ON CONFLICT per row
 * Prints one JSON line: { ms, records, maxRssMb, cpuSeconds }.
 */

import { ensureModelTables, REGISTRY } from "@finanzas/ledger";
import {
  createTransformer,
  currencyDecimals,
  fieldsGet,
  fullPage,
  fullPageRaw,
  resolveModel,
  type Source,
  upsertStatement,
} from "etl-worker/bench";
import { createDb } from "../../packages/db/src/index.js";
import { createOdooClient } from "../../packages/odoo/src/index.js";

const [mode, odooUrl, databaseUrl] = process.argv.slice(2) as [
  "read-only" | "read-only-stream" | "per-row",
  string,
  string | undefined,
];
const pageSize = Number(process.env.ODOO_PAGE_SIZE ?? 1000);
const concurrency = Number(process.env.ETL_MODEL_CONCURRENCY ?? 4);
const client = createOdooClient({
  url: odooUrl,
  db: "odoo",
  username: "admin",
  password: "admin",
  maxConcurrency: concurrency,
});
const source: Source = { client };
const database =
  mode === "per-row" && databaseUrl ? createDb({ url: databaseUrl, max: concurrency + 2 }) : undefined;
if (database) await ensureModelTables(database.db);

const started = performance.now();
let records = 0;
const decimals = await currencyDecimals(source);
const queue = [...REGISTRY].sort((a, b) =>
  a.model === "account.move.line" ? -1 : b.model === "account.move.line" ? 1 : 0,
);
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < queue.length) {
      const spec = queue[next++]!;
      const resolved = resolveModel(spec, await fieldsGet(source, spec.model));
      const fields = resolved.columns.map((c) => c.name);
      const transformer = createTransformer(spec.model, resolved.columns, decimals);
      const statement = upsertStatement(spec.model, resolved.columns);
      if (mode === "read-only-stream") {
        const visitor = {
          fields: ["id", ...fields],
          idOnly: [false, ...resolved.columns.map((c) => c.kind === "many2one")],
          last: 0,
          record(values: readonly unknown[]) {
            this.last = values[0] as number;
          },
        };
        let afterId = 0;
        let pending: ReturnType<typeof fullPageRaw> | null = fullPageRaw(
          source,
          spec.model,
          fields,
          0,
          pageSize,
        );
        while (pending) {
          const page = await pending;
          const hint = page.lastIdHint();
          pending = hint !== undefined ? fullPageRaw(source, spec.model, fields, hint, pageSize) : null;
          const count = page.visit(visitor);
          records += count;
          if (count < pageSize) {
            pending?.catch(() => {});
            pending = null;
          } else if (hint === undefined || visitor.last !== hint) {
            pending?.catch(() => {});
            afterId = visitor.last;
            pending = fullPageRaw(source, spec.model, fields, afterId, pageSize);
          }
        }
        continue;
      }
      let pending: ReturnType<typeof fullPage> | null = fullPage(source, spec.model, fields, 0, pageSize);
      while (pending) {
        const page = await pending;
        const last = page.records.at(-1);
        pending = page.done || !last ? null : fullPage(source, spec.model, fields, last.id, pageSize);
        records += page.records.length;
        if (!database) continue;
        const client = await database.pool.connect();
        try {
          await client.query("begin");
          for (const record of page.records) {
            const one = transformer.encode([record], () => {});
            if (one.rows) await client.query(statement, one.columns);
          }
          await client.query("commit");
        } finally {
          client.release();
        }
      }
    }
  }),
);
const ms = performance.now() - started;
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1e4) / 100;
};
await client.close();
await database?.close();
process.stdout.write(
  `${JSON.stringify({ ms: Math.round(ms), records, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), cpuSeconds: cpuSeconds() })}\n`,
);
