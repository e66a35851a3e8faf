import { commonEnv, env, loadConfig, type Static, Type } from "@finanzas/config";

export const ConfigSchema = Type.Object({
  ...commonEnv,
  HEALTH_PORT: env.port(3101),
  ETL_CONCURRENCY: env.int({ minimum: 1, maximum: 256, default: 2 }),
});

export type Config = Static<typeof ConfigSchema>;

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("etl-worker", ConfigSchema, source);
