/**
 * The etl-worker's parts that the benchmarks (bench/etl) measure on their own: reading Odoo's pages,
 * mapping them, writing them to PostgreSQL. Exported as `etl-worker/bench`, a dependency the
 * repository's root declares, so the benchmarks use the worker's own code without reaching into
 * this app's files. Not used by the service itself.
 */
export {
  currencyDecimals,
  fieldsGet,
  fullPage,
  fullPageRaw,
  resolveModel,
  type Source,
} from "./odoo/source.js";
export { copyBatch, copyStatements, upsertStatement, writeBatch } from "./postgres/load.js";
export { tryAcquire } from "./postgres/locks.js";
export { createTransformer } from "./transform.js";
