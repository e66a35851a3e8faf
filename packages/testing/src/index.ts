export { createTestDatabase, type TestDatabase } from "./database.js";
export { TEST_ADMIN_DATABASE_URL, TEST_REDIS_URL } from "./env.js";
export { holdFirstSync, markSynced } from "./first-sync.js";
export {
  type PostgresInstance,
  postgresBinDir,
  type RedisInstance,
  startPostgres,
  startRedis,
} from "./instances.js";
export { testLogger } from "./logger.js";
export { startTestOdoo, type TestOdoo } from "./odoo.js";
export { type PyBook, type PyCell, type PySheet, readWithOpenpyxl, runPython } from "./openpyxl.js";
export { freePort, type ServiceProcess, startNode, startProcess, waitForHttpOk } from "./process.js";
export { deleteQueueKeys, testQueuePrefix } from "./queue.js";
export { createRoleDatabase, dropTestRoles, type RoleDatabase } from "./roles.js";
export { productionSecretsSuite, type SecretsSuiteOptions } from "./secrets-suite.js";
export { type ServiceSuiteOptions, serviceLifecycleSuite } from "./service-suite.js";
