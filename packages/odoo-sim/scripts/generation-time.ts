/**
 * Generation time and memory of the simulator's data set.
 *   pnpm --filter @finanzas/odoo-sim bench:generate            # scale 100 ≈ 1 000 000 journal items, Odoo 17
 *   pnpm --filter @finanzas/odoo-sim bench:generate -- 100 19  # scale, version
 * Also times a few typical sync queries on the generated data (in-process, no HTTP).
 */
import { buildStore } from "../src/index.js";
import type { OdooVersion } from "../src/models.js";

const args = process.argv.slice(2).filter((a) => a !== "--");
const scale = Number(args[0] ?? 100);
const version = Number(args[1] ?? 17) as OdooVersion;
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const { store, generation } = buildStore(version, 1, scale);
const genMs = performance.now() - t0;
const t1 = performance.now();
store.table("account.move.line").writeDateIndex();
const indexMs = performance.now() - t1;
const rss = process.memoryUsage().rss;
const lines = generation.counts["account.move.line"] ?? 0;
console.log(`Odoo ${version}, scale ${scale}, seed 1`);
console.log(`  counts: ${JSON.stringify(generation.counts)}`);
console.log(`  generated ${lines.toLocaleString("en")} journal items in ${(genMs / 1000).toFixed(2)} s`);
console.log(`  (write_date, id) index in ${(indexMs / 1000).toFixed(2)} s`);
console.log(
  `  RSS +${Math.round((rss - rssBefore) / 1e6)} MB (heap used ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB)`,
);

const env = store.makeEnv({});
const time = (label: string, fn: () => unknown) => {
  const s = performance.now();
  const r = fn();
  console.log(
    `  ${label}: ${(performance.now() - s).toFixed(1)} ms${Array.isArray(r) ? ` (${r.length} rows)` : ` (${String(r)})`}`,
  );
};
const t = store.table("account.move.line");
const fields = store.checkFields(t, [
  "move_id",
  "account_id",
  "partner_id",
  "debit",
  "credit",
  "balance",
  "date",
  "write_date",
]);
time("page by id (id > 500000, limit 2000, order id)", () =>
  store.readRows(
    t,
    store.search("account.move.line", [["id", ">", 500_000]], { limit: 2000, order: "id asc" }, env),
    fields,
    env,
  ),
);
time("page by write_date keyset (>= 2024-06-01, limit 2000, order write_date,id)", () =>
  store.readRows(
    t,
    store.search(
      "account.move.line",
      [["write_date", ">=", "2024-06-01 00:00:00"]],
      { limit: 2000, order: "write_date asc, id asc" },
      env,
    ),
    fields,
    env,
  ),
);
time("search_count all", () => store.count("account.move.line", [], env));
time("search_count posted receivable lines", () =>
  store.count(
    "account.move.line",
    [
      ["parent_state", "=", "posted"],
      ["display_type", "=", "payment_term"],
    ],
    env,
  ),
);
