export {
  CompiledQuery,
  type Insertable,
  Kysely,
  type Selectable,
  sql,
  type Transaction,
  type Updateable,
} from "kysely";
export { type CappedWorkTable, countActiveUnderUserLock } from "./active.js";
export { assertDatabaseReachable, createDb, type Db } from "./client.js";
export type { Database } from "./database.js";
export { isConnectionError } from "./errors.js";
export {
  ensureDatabase,
  type MigrateOptions,
  type MigrateResult,
  migrateToLatest,
  migrationNames,
} from "./migrate.js";
export {
  connectionOptions,
  createPool,
  customTypes,
  KEEPALIVE_INITIAL_DELAY_MS,
  type PoolOptions,
  parseInt8,
  timeoutSettings,
  typeParsers,
} from "./pool.js";
export { type PurgeOptions, purgeEtlRuns, purgeMailings, purgeRefreshTokens } from "./retention.js";
export {
  APP_SCHEMAS,
  type ApplyRolesResult,
  applyRoles,
  canActAs,
  DEFAULT_OWNER_ROLE,
  grantStatements,
  type LoginRole,
  loginRoleOf,
  type RoleSpec,
  SCHEMAS,
  scramVerifier,
} from "./roles.js";
