import { commonEnv, env, productionSecretProblems, type Static, Type } from "@finanzas/config";
import { DEFAULT_OWNER_ROLE, loginRoleOf, type RoleSpec } from "./roles.js";

const postgresUrl = (description: string) =>
  env.optional(
    env.url(["postgres", "postgresql"], { description: `${description}: a URL starting with postgres://` }),
  );

/** What `db:migrate` and `db:roles` read besides commonEnv's DATABASE_URL, LOG_LEVEL, NODE_ENV. */
export const dbEnv = {
  /** A role that may create roles (a superuser, Supabase's postgres); unset: DATABASE_URL. */
  DATABASE_ADMIN_URL: postgresUrl("the admin's connection"),
  /** The etl-worker's connection: its user and password are the ETL role's. */
  DATABASE_ETL_URL: postgresUrl("the etl-worker's connection"),
  /** The connection of web-api, scheduler, report-worker and mailer: the reader role's. */
  DATABASE_READER_URL: postgresUrl("the other services' connection"),
  /** The NOLOGIN role that owns the schemas and runs the migrations. */
  DATABASE_OWNER_ROLE: Type.String({
    pattern: "^[a-z_][a-z0-9_]{0,62}$",
    default: DEFAULT_OWNER_ROLE,
    description: "a role name: lowercase letters, digits and _",
  }),
};

export const SetupConfigSchema = Type.Object({
  NODE_ENV: commonEnv.NODE_ENV,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  DATABASE_URL: commonEnv.DATABASE_URL,
  DATABASE_ADMIN_URL: dbEnv.DATABASE_ADMIN_URL,
  DATABASE_ETL_URL: dbEnv.DATABASE_ETL_URL,
  DATABASE_READER_URL: dbEnv.DATABASE_READER_URL,
  DATABASE_OWNER_ROLE: dbEnv.DATABASE_OWNER_ROLE,
  ALLOW_DEMO_SECRETS: commonEnv.ALLOW_DEMO_SECRETS,
});
export type SetupConfig = Static<typeof SetupConfigSchema>;

/** The admin's URL: DATABASE_ADMIN_URL, else DATABASE_URL (one role for everything, as in development). */
export const adminUrlOf = (config: SetupConfig): string => config.DATABASE_ADMIN_URL ?? config.DATABASE_URL;

/**
 * The roles to apply, from the two role URLs; undefined when neither is set (no roles: one
 * DATABASE_URL for everything). A role URL whose user is the admin's own means the same.
 */
export function roleSpecOf(config: SetupConfig): RoleSpec | undefined {
  const etlUrl = config.DATABASE_ETL_URL;
  const readerUrl = config.DATABASE_READER_URL;
  if (!etlUrl && !readerUrl) return undefined;
  if (!etlUrl || !readerUrl)
    throw new Error("set both DATABASE_ETL_URL and DATABASE_READER_URL (the roles), or neither");
  const admin = decodeURIComponent(new URL(adminUrlOf(config)).username).split(".")[0];
  const etl = loginRoleOf(etlUrl, "DATABASE_ETL_URL");
  const reader = loginRoleOf(readerUrl, "DATABASE_READER_URL");
  if (etl.name === admin && reader.name === admin) return undefined;
  return { owner: config.DATABASE_OWNER_ROLE, etl, reader };
}

/**
 * Configuration problems: the roles' passwords (inside the two URLs) and the admin's are secrets
 * like any other, so production refuses published or placeholder ones.
 */
export function setupConfigProblems(config: SetupConfig): string[] {
  const problems = productionSecretProblems(config, SetupConfigSchema);
  try {
    roleSpecOf(config);
  } catch (error) {
    problems.push((error as Error).message);
  }
  return problems;
}
