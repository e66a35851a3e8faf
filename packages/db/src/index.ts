export {
  CompiledQuery,
  type Insertable,
  Kysely,
  type Selectable,
  sql,
  type Transaction,
  type Updateable,
} from "kysely";
export { assertDatabaseReachable, createDb, type Db } from "./client.js";
export type { Database } from "./database.js";
export { ensureDatabase, type MigrateResult, migrateToLatest, migrationNames } from "./migrate.js";
export {
  connectionOptions,
  createPool,
  customTypes,
  type PoolOptions,
  parseInt8,
  typeParsers,
} from "./pool.js";
