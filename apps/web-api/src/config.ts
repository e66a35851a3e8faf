import { commonEnv, env, loadConfig, type Static, Type } from "@finanzas/config";

export const ConfigSchema = Type.Object({
  ...commonEnv,
  PORT: env.port(3000),
  HOST: env.string({ default: "0.0.0.0", description: "an interface address to listen on" }),
});

export type Config = Static<typeof ConfigSchema>;

/** The only place this service reads its environment. */
export const readConfig = (source: Record<string, string | undefined>): Config =>
  loadConfig("web-api", ConfigSchema, source);
