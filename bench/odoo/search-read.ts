/**
 * searchRead throughput on account.move.line pages against the simulator, per protocol, over real
 * HTTP on loopback. Pages of 2 000 records with the ETL's field list, keyset-paged by id.
 *
 *   pnpm --filter @finanzas/odoo bench:search-read   (or: pnpm exec tsx bench/odoo/search-read.ts [scale])
 */

import {
  createOdooClient,
  FINANCE_MODELS,
  type OdooProtocol,
  resolveFields,
} from "../../packages/odoo/src/index.js";
import { startOdooSim } from "../../packages/odoo-sim/src/index.js";

const scale = Number(process.argv[2] ?? 5); // ≈ 50 000 journal items
const sim = await startOdooSim({ version: 19, scale, seed: 1 });
console.log(
  `simulator: Odoo 19, scale ${scale}, ${sim.store.count("account.move.line")} journal items (same process)`,
);
const PAGE = 2000;

for (const protocol of ["xmlrpc", "jsonrpc", "json2"] as OdooProtocol[]) {
  const client = createOdooClient({
    url: sim.url,
    db: sim.database,
    username: sim.username,
    password: sim.password,
    protocol,
    maxConcurrency: 1,
  });
  const meta = await client.fieldsGet("account.move.line", { attributes: ["type"] });
  const { fields } = resolveFields(meta, FINANCE_MODELS["account.move.line"]);
  // warm-up page
  await client.searchRead("account.move.line", [], { fields, limit: PAGE, order: "id" });
  let lastId = 0;
  let records = 0;
  const start = process.hrtime.bigint();
  for (;;) {
    const page = await client.searchRead("account.move.line", [["id", ">", lastId]], {
      fields,
      limit: PAGE,
      order: "id",
    });
    if (page.length === 0) break;
    records += page.length;
    lastId = page[page.length - 1]?.id ?? lastId;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${protocol.padEnd(8)} ${records} records in ${seconds.toFixed(2)} s: ${Math.round(records / seconds)
      .toString()
      .padStart(7)} records/s (pages of ${PAGE}, ${fields.length} fields)`,
  );
  await client.close();
}
await sim.close();
