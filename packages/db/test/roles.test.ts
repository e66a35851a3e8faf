import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRoles, migrateToLatest, type RoleSpec, scramVerifier } from "../src/index.js";

const run = promisify(execFile);
const BASE = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const tag = randomBytes(4).toString("hex");
const databases: string[] = [];
// Roles are cluster-wide: this suite's own names, dropped at the end.
const spec: RoleSpec = {
  owner: `fz_owner_${tag}`,
  etl: { name: `fz_etl_${tag}`, password: `etl-${randomBytes(12).toString("hex")}` },
  reader: { name: `fz_reader_${tag}`, password: `reader-${randomBytes(12).toString("hex")}` },
};

function databaseUrl(name: string, user?: string): string {
  const url = new URL(BASE);
  url.pathname = `/${name}`;
  if (user) {
    url.username = user;
    url.password = "";
  }
  return url.toString();
}

async function freshDatabase(): Promise<string> {
  const name = `finanzas_roles_${tag}_${databases.length}`;
  databases.push(name);
  const admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  return name;
}

/** A client connected as `user` (trust authentication here: the password is checked separately). */
async function as<T>(database: string, user: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(database, user) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE a statement fails with, or "ok". */
const outcome = (client: pg.Client, statement: string, params: unknown[] = []) =>
  client.query(statement, params).then(
    () => "ok",
    (error: { code?: string }) => error.code ?? "error",
  );
const DENIED = "42501";

let db: string;

beforeAll(async () => {
  db = await freshDatabase();
  await applyRoles(databaseUrl(db), spec);
  const { ranAs } = await migrateToLatest(databaseUrl(db), undefined, { ownerRole: spec.owner });
  expect(ranAs).toBe(spec.owner);
  // The ETL creates the synced copy's tables itself, as ensureModelTables does at worker start.
  await as(db, spec.etl.name, async (etl) => {
    await etl.query(
      "create table odoo.res_partner (id integer primary key, name text, _deleted_at timestamptz)",
    );
    await etl.query("insert into odoo.res_partner values (1, 'Ana', null)");
  });
}, 60_000);

afterAll(async () => {
  const admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  for (const name of databases) await admin.query(`drop database if exists "${name}" with (force)`);
  for (const role of [spec.owner, spec.etl.name, spec.reader.name]) {
    await admin.query(`drop role if exists "${role}"`);
  }
  await admin.end();
});

describe("database roles on a fresh database", () => {
  it("the owner owns every schema and table the migrations made; the ETL owns the synced copy", async () => {
    const owners = await as(
      db,
      "postgres",
      async (c) =>
        (
          await c.query<{ kind: string; name: string; owner: string }>(
            `select 'schema' as kind, nspname as name, pg_get_userbyid(nspowner) as owner from pg_namespace
            where nspname in ('app', 'etl', 'reports', 'mail', 'odoo')
           union all
           select 'table', n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner) from pg_class c
             join pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'r' and (n.nspname in ('app', 'etl', 'reports', 'mail', 'odoo') or c.relname like 'kysely%')`,
          )
        ).rows,
    );
    expect(owners.length).toBeGreaterThan(15);
    for (const row of owners) {
      const wanted = row.name.startsWith("odoo.") ? spec.etl.name : spec.owner;
      expect(row.owner, `${row.kind} ${row.name}`).toBe(wanted);
    }
  });

  it("the reader reads the synced copy and the ETL's history but cannot write them, nor create, alter or drop", async () => {
    await as(db, spec.reader.name, async (reader) => {
      expect((await reader.query("select name from odoo.res_partner")).rows).toEqual([{ name: "Ana" }]);
      expect(await outcome(reader, "select count(*) from etl.runs")).toBe("ok");
      expect(await outcome(reader, "insert into odoo.res_partner values (2, 'Eve', null)")).toBe(DENIED);
      expect(await outcome(reader, "update odoo.res_partner set name = 'x'")).toBe(DENIED);
      expect(await outcome(reader, "delete from etl.cursors")).toBe(DENIED);
      expect(
        await outcome(reader, "insert into etl.runs (job, models, status) values ('sync', '{}', 'queued')"),
      ).toBe(DENIED);
      expect(await outcome(reader, "create table app.extra (id int)")).toBe(DENIED);
      expect(await outcome(reader, "create table public.extra (id int)")).toBe(DENIED);
      expect(await outcome(reader, "alter table app.users add column extra text")).toBe(DENIED);
      expect(await outcome(reader, "drop table mail.suppressions")).toBe(DENIED);
      expect(await outcome(reader, "create index on odoo.res_partner (name)")).toBe(DENIED);
      expect(await outcome(reader, "create schema extra")).toBe(DENIED);
    });
  });

  it("the reader writes the rows of app, reports and mail (users and tokens, report records, the outbox)", async () => {
    await as(db, spec.reader.name, async (reader) => {
      const user = await reader.query<{ id: string }>(
        "insert into app.users (email, role, password_hash) values ('ana@example.com', 'admin', 'h') returning id",
      );
      const userId = user.rows[0]!.id;
      await reader.query(
        "insert into app.refresh_tokens (id, user_id, family_id, token_hash, expires_at) values (gen_random_uuid(), $1, gen_random_uuid(), 't', now())",
        [userId],
      );
      await reader.query("update app.users set name = 'Ana' where id = $1", [userId]);
      await reader.query(
        "insert into reports.reports (id, kind, params, request_key, status, file_name) values (gen_random_uuid(), 'aged-balance', '{}', 'k', 'queued', 'f.xlsx')",
      );
      const mailing = await reader.query<{ id: string }>(
        "insert into mail.mailings (id, kind, params, status, as_of) values (gen_random_uuid(), 'statement', '{}', 'planning', current_date) returning id",
      );
      await reader.query(
        "insert into mail.messages (id, mailing_id, partner_id, context, state, message_id) values (gen_random_uuid(), $1, 1, '{}', 'queued', 'm1')",
        [mailing.rows[0]!.id],
      );
      await reader.query("insert into mail.suppressions (email, reason) values ('x@example.com', 'manual')");
      expect(await outcome(reader, "delete from app.refresh_tokens")).toBe("ok");
    });
  });

  it("the ETL writes its history and the synced copy, and cannot read users nor drop anything but its own tables", async () => {
    await as(db, spec.etl.name, async (etl) => {
      await etl.query(
        "insert into etl.runs (job, models, status) values ('sync', '{res.partner}', 'running')",
      );
      await etl.query("insert into etl.cursors (model) values ('res.partner')");
      await etl.query("alter table odoo.res_partner add column if not exists vat text");
      expect(await outcome(etl, "analyze odoo.res_partner")).toBe("ok");
      expect(
        await outcome(etl, "create index concurrently if not exists api_x on odoo.res_partner (name)"),
      ).toBe("ok");
      expect(await outcome(etl, "select password_hash from app.users")).toBe(DENIED);
      expect(await outcome(etl, "select count(*) from app.refresh_tokens")).toBe(DENIED);
      expect(await outcome(etl, "select count(*) from mail.messages")).toBe(DENIED);
      expect(await outcome(etl, "select count(*) from reports.reports")).toBe(DENIED);
      expect(await outcome(etl, "drop table etl.runs")).toBe(DENIED);
      expect(await outcome(etl, "drop table app.users")).toBe(DENIED);
      expect(await outcome(etl, "alter table etl.cursors add column extra text")).toBe(DENIED);
      expect(await outcome(etl, "drop schema odoo cascade")).toBe(DENIED);
      expect(await outcome(etl, "create table etl.extra (id int)")).toBe(DENIED);
    });
  });

  it("stores each password as a SCRAM verifier of that password, never the password itself", async () => {
    const stored = await as(
      db,
      "postgres",
      async (c) =>
        (
          await c.query<{ name: string; password: string | null }>(
            "select rolname as name, rolpassword as password from pg_authid where rolname = any($1)",
            [[spec.etl.name, spec.reader.name, spec.owner]],
          )
        ).rows,
    );
    for (const role of [spec.etl, spec.reader]) {
      const verifier = stored.find((r) => r.name === role.name)?.password ?? "";
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(verifier) ?? [];
      expect(verifier).toBe(scramVerifier(role.password, Buffer.from(salt!, "base64"), Number(iterations)));
      expect(verifier).not.toContain(role.password);
    }
    expect(stored.find((r) => r.name === spec.owner)?.password).toBeNull();
  });

  it("is idempotent: applied again it creates and re-owns nothing, and grants stay as they were", async () => {
    const again = await applyRoles(databaseUrl(db), spec);
    expect(again.created).toEqual([]);
    expect(again.reowned).toEqual([]);
    await as(db, spec.reader.name, async (reader) => {
      expect(await outcome(reader, "select count(*) from odoo.res_partner")).toBe("ok");
      expect(await outcome(reader, "insert into odoo.res_partner values (3, 'x', null)")).toBe(DENIED);
    });
  });

  it("gives a table a later migration creates the same grants (default privileges)", async () => {
    // A migration runs as the owner, whoever connects (migrateToLatest's role option).
    await as(db, "postgres", async (admin) => {
      await admin.query(`set role "${spec.owner}"`);
      await admin.query("create table app.later (id bigserial primary key, note text)");
      await admin.query("create table etl.later (id bigserial primary key, note text)");
    });
    await as(db, spec.reader.name, async (reader) => {
      expect(await outcome(reader, "insert into app.later (note) values ('r')")).toBe("ok");
      expect(await outcome(reader, "select * from etl.later")).toBe("ok");
      expect(await outcome(reader, "insert into etl.later (note) values ('r')")).toBe(DENIED);
    });
    await as(db, spec.etl.name, async (etl) => {
      expect(await outcome(etl, "insert into etl.later (note) values ('e')")).toBe("ok");
      expect(await outcome(etl, "select * from app.later")).toBe(DENIED);
    });
  });
});

describe("an existing database migrated before the roles existed", () => {
  it("hands its schemas and tables to their owners, then migrates as the owner; keeps the rows", async () => {
    const old = await freshDatabase();
    const before = await migrateToLatest(databaseUrl(old));
    expect(before.ranAs).toBe("postgres");
    await as(old, "postgres", async (c) => {
      await c.query("create table odoo.res_company (id integer primary key, name text)");
      await c.query("insert into odoo.res_company values (1, 'Acme')");
      await c.query(
        "insert into app.users (email, role, password_hash) values ('a@example.com', 'admin', 'h')",
      );
    });
    const applied = await applyRoles(databaseUrl(old), spec);
    expect(applied.reowned).toEqual(
      expect.arrayContaining([
        "table app.users",
        "table odoo.res_company",
        "schema app",
        "table public.kysely_migration",
      ]),
    );
    const after = await migrateToLatest(databaseUrl(old), undefined, { ownerRole: spec.owner });
    expect(after).toMatchObject({ applied: [], ranAs: spec.owner });
    await as(old, spec.reader.name, async (reader) => {
      expect((await reader.query("select name from odoo.res_company")).rows).toEqual([{ name: "Acme" }]);
      expect((await reader.query("select email from app.users")).rows).toEqual([{ email: "a@example.com" }]);
    });
    await as(old, spec.etl.name, async (etl) => {
      expect(await outcome(etl, "alter table odoo.res_company add column vat text")).toBe("ok");
    });
  });
});

describe("db:migrate with the role URLs set", () => {
  it("applies the roles, migrates as the owner, and refuses published passwords in production", async () => {
    const name = await freshDatabase();
    const cli = fileURLToPath(new URL("../src/migrate-cli.ts", import.meta.url));
    const roleUrl = (role: { name: string; password: string }) => {
      const url = new URL(databaseUrl(name));
      url.username = role.name;
      url.password = role.password;
      return url.toString();
    };
    const env = {
      ...process.env,
      DATABASE_URL: "",
      DATABASE_ADMIN_URL: databaseUrl(name),
      DATABASE_ETL_URL: roleUrl(spec.etl),
      DATABASE_READER_URL: roleUrl(spec.reader),
      DATABASE_OWNER_ROLE: spec.owner,
      LOG_LEVEL: "info",
    };
    const first = await run(process.execPath, ["--conditions=source", "--import", "tsx", cli], { env });
    expect(first.stdout).toContain("database roles applied");
    expect(first.stdout).toContain(`"as":"${spec.owner}"`);
    expect(first.stdout).toContain("database migrated");
    const second = await run(process.execPath, ["--conditions=source", "--import", "tsx", cli], { env });
    expect(second.stdout).toContain("database already up to date");

    const published = {
      ...env,
      NODE_ENV: "production",
      DATABASE_ETL_URL: roleUrl({ name: spec.etl.name, password: "demo-etl-password" }),
    };
    const refused = await run(process.execPath, ["--conditions=source", "--import", "tsx", cli], {
      env: published,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("DATABASE_ETL_URL");
    expect(refused.stderr).not.toContain("demo-etl-password");
  }, 120_000);
});
