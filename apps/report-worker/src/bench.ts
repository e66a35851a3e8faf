/**
 * What bench/reports measures of this worker, exported as `report-worker/bench` so the bench uses
 * the worker's own code through the package (it never reaches into src/). Not used by the service.
 */
export { type ColumnSpec, createXlsxWriter, type XlsxWorkbook } from "./xlsx/index.js";
