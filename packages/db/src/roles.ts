/**
 * Least privilege in PostgreSQL: three roles, applied by an admin (a superuser, or a role with
 * CREATEROLE such as Supabase's `postgres`), idempotently (`pnpm db:roles`, and `pnpm db:migrate`
 * first of all when the role URLs are set).
 *
 * - the **owner** (NOLOGIN, default `finanzas_owner`) owns the schemas `app`, `etl`, `reports`,
 *   `mail`, `odoo`, every table of the first four and the migrations' bookkeeping. Nobody logs in
 *   as it: `db:migrate` connects as the admin and runs the migrations as the owner (`SET ROLE`, sent
 *   in the connection's startup packet), so it needs no password that could leak.
 * - the **ETL** role (the user of `DATABASE_ETL_URL`) writes the synced copy and its bookkeeping:
 *   it reads and writes `etl.*`, and owns the tables of `odoo` (it creates them, and adds columns as
 *   the model registry grows, at worker start; it analyzes them after a sync, which PostgreSQL
 *   before 17 allows only to a table's owner; it builds the API's read indexes on them). It may
 *   drop those tables (data it can copy again from Odoo) but no other table, and it cannot read
 *   `app` (users, password hashes, refresh tokens), `reports` or `mail` at all.
 * - the **reader** role (the user of `DATABASE_READER_URL`), shared by web-api, scheduler,
 *   report-worker and mailer, reads `odoo` and `etl`, and reads and writes the rows of `app`,
 *   `reports` and `mail` (users, sessions and refresh tokens; report records; templates, mailings,
 *   the outbox and suppressions): the tables those services write. It creates, alters and drops
 *   nothing.
 *
 * Default privileges give tables that later migrations create (as the owner) and that the ETL
 * creates in `odoo` the same grants. Passwords never travel in SQL text: a SCRAM-SHA-256 verifier
 * is computed here and sent instead (statement logs show the verifier, not the password).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type pg from "pg";
import { withClient } from "./pool.js";

/** The application's schemas; `odoo` holds the synced copy. */
export const APP_SCHEMAS = ["app", "etl", "reports", "mail"] as const;
export const SCHEMAS = [...APP_SCHEMAS, "odoo"] as const;

/** Kysely's migration bookkeeping (schema public). */
const MIGRATION_TABLES = ["kysely_migration", "kysely_migration_lock"] as const;

export const DEFAULT_OWNER_ROLE = "finanzas_owner";

export interface LoginRole {
  name: string;
  password: string;
}

export interface RoleSpec {
  /** The NOLOGIN role that owns the schemas and runs the migrations. */
  owner: string;
  etl: LoginRole;
  reader: LoginRole;
}

/**
 * A login role from a connection URL: its user (up to a `.`, which Supabase's pooler appends with
 * the project's reference: `finanzas_etl.abcd` is role `finanzas_etl`) and its password.
 */
export function loginRoleOf(url: string, variable: string): LoginRole {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.username).split(".")[0] ?? "";
  const password = decodeURIComponent(parsed.password);
  if (!name || !password)
    throw new Error(`${variable} must name its role and password: postgres://<role>:<password>@host/db`);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new Error(`${variable}: the role ${JSON.stringify(name)} must be lowercase letters, digits and _`);
  return { name, password };
}

/** A SCRAM-SHA-256 verifier of `password` (RFC 7677, as PostgreSQL stores it). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

const id = (name: string) => `"${name.replaceAll('"', '""')}"`;
const lit = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * The grants and default privileges, as SQL (after the roles exist and own what they own). The same
 * text `pnpm db:roles --print` shows and the README quotes.
 */
export function grantStatements(spec: RoleSpec, database: string): string[] {
  const owner = id(spec.owner);
  const etl = id(spec.etl.name);
  const reader = id(spec.reader.name);
  const written = ["app", "reports", "mail"];
  return [
    `grant connect, temporary on database ${id(database)} to ${etl}, ${reader}`,
    // the owner: later migrations may add schemas; kysely's bookkeeping lives in public
    `grant connect, create, temporary on database ${id(database)} to ${owner}`,
    `grant usage, create on schema public to ${owner}`,
    // the ETL: its bookkeeping (etl), the synced copy's schema (it creates its tables there)
    `grant usage on schema etl, odoo to ${etl}`,
    `grant create on schema odoo to ${etl}`,
    `grant select, insert, update, delete on all tables in schema etl to ${etl}`,
    `grant usage, select, update on all sequences in schema etl to ${etl}`,
    // the reader: reads everything of Finanzas, writes the rows of app, reports and mail
    `grant usage on schema ${SCHEMAS.join(", ")} to ${reader}`,
    `grant select on all tables in schema odoo, etl to ${reader}`,
    `grant select, insert, update, delete on all tables in schema ${written.join(", ")} to ${reader}`,
    `grant usage, select on all sequences in schema ${written.join(", ")} to ${reader}`,
    // what later migrations (run as the owner) and the ETL (in odoo) create
    `alter default privileges for role ${owner} in schema etl grant select, insert, update, delete on tables to ${etl}`,
    `alter default privileges for role ${owner} in schema etl grant usage, select, update on sequences to ${etl}`,
    `alter default privileges for role ${owner} in schema etl, odoo grant select on tables to ${reader}`,
    `alter default privileges for role ${owner} in schema ${written.join(", ")} grant select, insert, update, delete on tables to ${reader}`,
    `alter default privileges for role ${owner} in schema ${written.join(", ")} grant usage, select on sequences to ${reader}`,
    `alter default privileges for role ${etl} in schema odoo grant select on tables to ${reader}`,
  ];
}

export interface ApplyRolesResult {
  created: string[];
  /** Objects whose owner changed (`schema app`, `table etl.runs` …): none on a second run. */
  reowned: string[];
  /** Whether pg_trgm is installed (the read indexes' text search; created here when missing). */
  trigram: boolean;
}

/**
 * Creates or updates the three roles, hands every schema and table to the role that owns it, and
 * grants the rest (grantStatements). Idempotent; serialised across concurrent runs by an advisory
 * lock; one transaction, so a failure leaves nothing half done. Creates the database's pg_trgm
 * extension where it can (the ETL, which builds the read indexes, may not create extensions).
 */
export async function applyRoles(adminUrl: string, spec: RoleSpec): Promise<ApplyRolesResult> {
  const names = [spec.owner, spec.etl.name, spec.reader.name];
  if (new Set(names).size !== 3)
    throw new Error(`the owner, ETL and reader roles must differ: ${names.join(", ")}`);
  return withClient(adminUrl, async (client) => {
    const { rows: me } = await client.query<{ user: string; database: string }>(
      "select current_user as user, current_database() as database",
    );
    const { user, database } = me[0]!;
    if (names.includes(user))
      throw new Error(
        `connect as an admin, not as ${user}: the roles are applied by a role that may create roles`,
      );
    let trigram = true;
    await client.query("create extension if not exists pg_trgm").catch(() => {
      trigram = false;
    });
    const created: string[] = [];
    const reowned: string[] = [];
    await client.query("begin");
    try {
      await client.query("select pg_advisory_xact_lock(hashtext('finanzas_db_roles'))");
      const exists = async (name: string) =>
        (await client.query("select 1 from pg_roles where rolname = $1", [name])).rowCount === 1;
      const ensureRole = async (name: string, login: string | null) => {
        if (!(await exists(name))) {
          await client.query(`create role ${id(name)} ${login === null ? "nologin" : "login"}`);
          created.push(name);
        }
        const password = login === null ? "password null" : `password ${lit(scramVerifier(login))}`;
        await client.query(
          `alter role ${id(name)} ${login === null ? "nologin" : "login"} nosuperuser nocreatedb nocreaterole noinherit ${password}`,
        );
        // The admin may act for the role (run migrations as the owner, set default privileges for it).
        const { rowCount } = await client.query(
          "select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid join pg_roles u on u.oid = m.member where r.rolname = $1 and u.rolname = current_user",
          [name],
        );
        const { rows } = await client.query<{ rolsuper: boolean }>(
          "select rolsuper from pg_roles where rolname = current_user",
        );
        if (!rows[0]?.rolsuper && rowCount === 0) await client.query(`grant ${id(name)} to current_user`);
      };
      await ensureRole(spec.owner, null);
      await ensureRole(spec.etl.name, spec.etl.password);
      await ensureRole(spec.reader.name, spec.reader.password);

      for (const schema of SCHEMAS) {
        await client.query(`create schema if not exists ${id(schema)} authorization ${id(spec.owner)}`);
      }
      // Owners: the owner has the schemas, the application's tables and the migration bookkeeping;
      // the ETL has the synced copy's tables (views and sequences follow their kind's owner).
      const { rows: objects } = await client.query<{
        kind: string;
        schema: string;
        name: string;
        owner: string;
      }>(
        `select case when c.relkind in ('r', 'p') then 'table' when c.relkind = 'S' then 'sequence'
                     when c.relkind = 'm' then 'materialized view' else 'view' end as kind,
                n.nspname as schema, c.relname as name, pg_get_userbyid(c.relowner) as owner
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind in ('r', 'p', 'S', 'v', 'm')
            and (n.nspname = any($1) or (n.nspname = 'public' and c.relname = any($2)))
            -- a sequence owned by a column moves with its table
            and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i') and c.relkind = 'S')`,
        [SCHEMAS, MIGRATION_TABLES],
      );
      for (const object of objects) {
        const wanted = object.schema === "odoo" ? spec.etl.name : spec.owner;
        if (object.owner === wanted) continue;
        await client.query(
          `alter ${object.kind} ${id(object.schema)}.${id(object.name)} owner to ${id(wanted)}`,
        );
        reowned.push(`${object.kind} ${object.schema}.${object.name}`);
      }
      const { rows: schemas } = await client.query<{ name: string; owner: string }>(
        "select nspname as name, pg_get_userbyid(nspowner) as owner from pg_namespace where nspname = any($1)",
        [SCHEMAS],
      );
      for (const schema of schemas) {
        if (schema.owner === spec.owner) continue;
        await client.query(`alter schema ${id(schema.name)} owner to ${id(spec.owner)}`);
        reowned.push(`schema ${schema.name}`);
      }
      for (const statement of grantStatements(spec, database)) await client.query(statement);
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    }
    return { created, reowned, trigram };
  });
}

/**
 * Whether migrations here run as `role`: it owns this database's `app` schema (applyRoles made it
 * so) and the connected user may act as it. A role of that name left from another database (a
 * shared cluster, a developer's machine) does not count.
 */
export async function canActAs(client: Pick<pg.Client, "query">, role: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select pg_get_userbyid(nspowner) = $1 and pg_has_role(current_user, nspowner, 'MEMBER') as ok
       from pg_namespace where nspname = 'app'`,
    [role],
  );
  return rows[0]?.ok === true;
}
