import { commonEnv, env, loadConfig, type Static, Type } from "@finanzas/config";

export const ConfigSchema = Type.Object({
  ...commonEnv,
  HEALTH_PORT: env.port(3102),
});

export type Config = Static<typeof ConfigSchema>;

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("scheduler", ConfigSchema, source);
