import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ConfigError,
  DEMO_SECRET_ALTERNATIVES,
  DEMO_SECRETS,
  parseEnv,
  type TObject,
  urlPassword,
} from "@finanzas/config";
import { Ajv, type ErrorObject } from "ajv";
import { describe, expect, it } from "vitest";
import {
  type ComposeFile,
  type ComposeService,
  durationMs,
  interpolations,
  interpolationsIn,
  serviceEnvironment,
} from "../src/compose.js";
import {
  composeOnDemo,
  composeOnExample,
  demoVars,
  exampleVars,
  loadCompose,
  loadDemoEnv,
  loadEnvExample,
} from "../src/deployment.js";
import { parseDockerfile, parseHealthcheck } from "../src/dockerfile.js";
import { imageSpecs, readRepoFile, repoPath, serviceApps, serviceEnvNames } from "../src/repo.js";

// The Compose Specification's JSON schema, as the dclint package ships it (kept current with
// compose-spec/compose-spec).
const require = createRequire(import.meta.url);
const { $schema: draft, ...composeSchema } = JSON.parse(
  readFileSync(
    join(dirname(require.resolve("dclint/package.json")), "schemas", "compose.schema.json"),
    "utf8",
  ),
);
// Ajv's default dialect is draft-07, the schema's; Ajv only knows that draft by its http:// id.
if (!String(draft).includes("draft-07"))
  throw new Error(`the compose schema moved to ${draft}: update Ajv's dialect`);
const validateCompose = new Ajv({ allErrors: true, strict: false }).compile(composeSchema);
const describeErrors = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);

const compose = loadCompose();
const onDemo = composeOnDemo();
const envExample = loadEnvExample();
const demoEnv = loadDemoEnv();
const apps = serviceApps();
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker/compose.yml has no service ${name}`);
  return found;
};

interface ConfigModule {
  ConfigSchema: TObject;
  /** Checks across variables: productionSecretProblems for every service, and each one's own. */
  checkConfig: (config: unknown) => unknown;
}
const configModules = new Map<string, ConfigModule>(
  await Promise.all(
    apps.map(
      async (app) =>
        [
          app,
          (await import(pathToFileURL(repoPath("apps", app, "src", "config.ts")).href)) as ConfigModule,
        ] as const,
    ),
  ),
);
const configSchema = (app: string) => configModules.get(app)!.ConfigSchema;
const setupEnv = (await import(pathToFileURL(repoPath("packages", "db", "src", "setup-env.ts")).href)) as {
  SetupConfigSchema: TObject;
  setupConfigProblems: (config: unknown) => string[];
};

/**
 * Variables `packages/db/src/migrate-cli.ts` reads (SetupConfigSchema in setup-env.ts), but
 * DATABASE_URL: its fallback when DATABASE_ADMIN_URL is unset, which compose always sets.
 */
function migrateEnvNames(): string[] {
  const source = readRepoFile("packages", "db", "src", "setup-env.ts");
  const schema = source.slice(source.indexOf("export const SetupConfigSchema"));
  const names = [...schema.matchAll(/^ {2}([A-Z_]+): (?:commonEnv|dbEnv)\.\1,$/gm)].map((m) => m[1]!);
  if (names.length === 0) throw new Error("cannot find the variables migrate-cli.ts reads");
  return names.filter((name) => name !== "DATABASE_URL").sort();
}

describe("docker/compose.yml against the Compose Specification", () => {
  it("is valid as written and as compose runs the demo on docker/demo.env", () => {
    expect(validateCompose(compose), describeErrors(validateCompose.errors).join("\n")).toBe(true);
    expect(validateCompose(onDemo), describeErrors(validateCompose.errors).join("\n")).toBe(true);
  });

  it("the schema rejects what compose would reject (the check can fail)", () => {
    const broken = structuredClone(onDemo) as ComposeFile;
    broken.services["web-api"]!.depends_on = { migrate: { condition: "service_finished" } };
    broken.services.redis!.healthcheck = { test: ["CMD", "redis-cli", "ping"], intervall: "5s" };
    expect(validateCompose(broken)).toBe(false);
    const messages = describeErrors(validateCompose.errors).join("\n");
    expect(messages).toContain("/services/web-api/depends_on");
    expect(messages).toContain("intervall");
  });

  it("uses every ${VARIABLE} with an explicit fallback or requirement", () => {
    const bare = interpolations(compose).filter((i) => i.text.startsWith("$") && !/[:]?[-?]/.test(i.text));
    expect(bare.map((i) => i.text)).toEqual([]);
  });
});

describe("topology", () => {
  it("has PostgreSQL 16 and Redis 7 with healthchecks, Redis keeping an append-only file on a volume", () => {
    expect(service("postgres").image).toBe("postgres:16");
    expect(service("postgres").healthcheck?.test).toBeDefined();
    expect(service("postgres").volumes).toContain("postgres-data:/var/lib/postgresql/data");
    const redis = service("redis");
    expect(redis.image).toBe("redis:7");
    expect(redis.healthcheck?.test).toEqual(["CMD", "redis-cli", "ping"]);
    const args = redis.command as string[];
    expect(args.slice(args.indexOf("--appendonly"), args.indexOf("--appendonly") + 2)).toEqual([
      "--appendonly",
      "yes",
    ]);
    expect(args).toContain("noeviction");
    expect(redis.volumes).toContain("redis-data:/data");
    expect(Object.keys(compose.volumes ?? {})).toEqual(
      expect.arrayContaining(["postgres-data", "redis-data"]),
    );
  });

  it("builds every image of docker/images.json from docker/Dockerfile, with its package and target", () => {
    const targets = new Set(parseDockerfile(readRepoFile("docker", "Dockerfile")).stages.map((s) => s.name));
    for (const spec of imageSpecs()) {
      const definition = service(spec.image);
      expect(definition.build, spec.image).toEqual({
        context: "..",
        dockerfile: "docker/Dockerfile",
        target: spec.target,
        args: { APP: spec.package },
      });
      expect(targets.has(spec.target), `Dockerfile target ${spec.target}`).toBe(true);
      expect(onDemo.services[spec.image]?.image).toBe(`finanzas/${spec.image}:local`);
    }
    // Every app is an image that runs as a service; and nothing else is built.
    expect(
      imageSpecs()
        .filter((s) => s.target === "service")
        .map((s) => s.package)
        .sort(),
    ).toEqual(apps);
    const built = Object.entries(compose.services).filter(([, s]) => s.build);
    expect(built.map(([name]) => name).sort()).toEqual(
      imageSpecs()
        .map((s) => s.image)
        .sort(),
    );
  });

  it("runs migrate once after PostgreSQL is healthy, and every service only after it succeeded", () => {
    const migrate = service("migrate");
    expect(migrate.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(migrate.restart).toBe("no");
    for (const app of apps) {
      expect(service(app).depends_on, app).toMatchObject({
        postgres: { condition: "service_healthy" },
        redis: { condition: "service_healthy" },
        migrate: { condition: "service_completed_successfully" },
      });
      expect(service(app).profiles, `${app} runs without a profile`).toBeUndefined();
      expect(service(app).restart).toBe("unless-stopped");
    }
  });

  it("probes every service with its image's HEALTHCHECK", () => {
    const dockerfile = parseDockerfile(readRepoFile("docker", "Dockerfile"));
    const healthcheckOf = (stage: string) => {
      const line = dockerfile.stages
        .find((s) => s.name === stage)
        ?.instructions.find((i) => i.keyword === "HEALTHCHECK");
      return line ? ["CMD", ...parseHealthcheck(line.args).command] : undefined;
    };
    for (const spec of imageSpecs().filter((s) => s.target !== "migrate")) {
      expect(service(spec.image).healthcheck?.test, spec.image).toEqual(healthcheckOf(spec.target));
    }
    for (const name of Object.keys(compose.services)) {
      if (name !== "migrate")
        expect(service(name).healthcheck?.test, `${name} has a healthcheck`).toBeDefined();
    }
  });

  it("gives Docker more time than SHUTDOWN_TIMEOUT_MS (plus the 5 s close deadline) before SIGKILL", () => {
    for (const app of apps) {
      const shutdownMs = Number(serviceEnvironment(onDemo.services[app]!).SHUTDOWN_TIMEOUT_MS);
      expect(shutdownMs, app).toBeGreaterThan(0);
      const grace = onDemo.services[app]!.stop_grace_period;
      expect(grace, `${app} stop_grace_period`).toBeDefined();
      expect(durationMs(grace!), app).toBeGreaterThanOrEqual(shutdownMs + 10_000);
    }
  });

  it("lets the workers scale: no fixed container names, no host ports", () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      expect(definition.container_name, name).toBeUndefined();
    }
    const workers = apps.filter((app) => app !== "web-api");
    expect(workers.length).toBe(4);
    for (const worker of workers) expect(service(worker).ports, worker).toBeUndefined();
  });

  it("publishes ports on the loopback interface unless configured otherwise", () => {
    const published = Object.entries(onDemo.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => [name, String(p)] as const),
    );
    expect(published.map(([name]) => name).sort()).toEqual(["mailpit", "odoo-sim", "web-api"]);
    for (const [, port] of published) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it("adds the Odoo simulator and an SMTP catcher with a web UI only in the demo profile", () => {
    const demo = Object.entries(compose.services)
      .filter(([, s]) => s.profiles?.includes("demo"))
      .map(([name]) => name)
      .sort();
    expect(demo).toEqual(["mailpit", "odoo-sim"]);
    expect(service("mailpit").image).toMatch(/^axllent\/mailpit:v\d+\.\d+\.\d+$/);
    expect(onDemo.services.mailpit?.ports).toEqual(["127.0.0.1:8025:8025"]);
    // The ETL waits for the simulator when it runs, and is not tied to it when it does not.
    expect(service("etl-worker").depends_on).toMatchObject({
      "odoo-sim": { condition: "service_healthy", required: false },
    });
  });
});

describe("environment: what compose gives each service is what its config reads", () => {
  for (const app of serviceApps()) {
    it(`${app}: nothing missing, nothing unknown, and every value valid`, async () => {
      const reads = await serviceEnvNames(app);
      const given = Object.keys(serviceEnvironment(service(app))).sort();
      const missing = reads.filter((name) => !given.includes(name));
      const unknown = given.filter((name) => !reads.includes(name));
      expect(
        { missing, unknown },
        `apps/${app}/src/config.ts reads ${missing.join(", ") || "—"} that docker/compose.yml does not give; ` +
          `compose gives ${unknown.join(", ") || "—"} that the service does not read. ` +
          "Add the variable to the service's environment (and to docker/.env.example when it is a setting).",
      ).toEqual({ missing: [], unknown: [] });
      // The values compose passes in the demo all parse (a wrong cron, URL or port fails here).
      const environment = serviceEnvironment(onDemo.services[app]!);
      const { ConfigSchema, checkConfig } = configModules.get(app)!;
      expect(() => {
        const config = parseEnv(app, ConfigSchema, environment);
        checkConfig(config);
      }).not.toThrow();
      expect(environment.NODE_ENV).toBe("production");
      expect(environment.LOG_FORMAT).toBe("json");
    });

    it(`${app}: refuses the demo's secrets without ALLOW_DEMO_SECRETS, naming each and showing none`, () => {
      const environment: Record<string, string> = {
        ...serviceEnvironment(onDemo.services[app]!),
        ALLOW_DEMO_SECRETS: "false",
      };
      const { ConfigSchema, checkConfig } = configModules.get(app)!;
      // The demo secrets this service reads: its own variables, and the password in DATABASE_URL
      // (the reader's, or the ETL's for the etl-worker: DEMO_SECRET_ALTERNATIVES).
      const reads = Object.keys(ConfigSchema.properties);
      const demoNames = Object.keys(DEMO_SECRETS).filter(
        (name) => reads.includes(name) && environment[name] !== undefined && environment[name] !== "",
      );
      expect(demoNames, "every service reads DATABASE_URL").toContain("DATABASE_URL");
      let caught: unknown;
      try {
        checkConfig(parseEnv(app, ConfigSchema, environment));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const message = (caught as ConfigError).message;
      for (const name of demoNames) expect(message).toContain(name);
      for (const value of Object.values(DEMO_SECRETS)) expect(message).not.toContain(value);
    });
  }

  it("migrate: exactly what the migrate command reads", () => {
    expect(Object.keys(serviceEnvironment(service("migrate"))).sort()).toEqual(migrateEnvNames());
  });

  it("gives each service its database role: the etl-worker the ETL's, the others the reader's; migrate the admin", () => {
    for (const app of apps) {
      const wanted = app === "etl-worker" ? "DATABASE_ETL_URL" : "DATABASE_READER_URL";
      expect(
        interpolationsIn(serviceEnvironment(service(app)).DATABASE_URL ?? "").map((i) => i.name),
        app,
      ).toEqual([wanted]);
    }
    const migrate = serviceEnvironment(onDemo.services.migrate!);
    expect(new URL(migrate.DATABASE_ADMIN_URL!).username).toBe("postgres");
    const etl = new URL(migrate.DATABASE_ETL_URL!);
    const reader = new URL(migrate.DATABASE_READER_URL!);
    expect([etl.username, reader.username]).toEqual(["finanzas_etl", "finanzas_reader"]);
    expect(serviceEnvironment(onDemo.services["etl-worker"]!).DATABASE_URL).toBe(migrate.DATABASE_ETL_URL);
    expect(serviceEnvironment(onDemo.services["web-api"]!).DATABASE_URL).toBe(migrate.DATABASE_READER_URL);
    // migrate checks its secrets like the services (the roles' passwords are set by it).
    const { SetupConfigSchema, setupConfigProblems } = setupEnv;
    expect(() => {
      const problems = setupConfigProblems(parseEnv("db:migrate", SetupConfigSchema, migrate));
      if (problems.length) throw new Error(problems.join("; "));
    }).not.toThrow();
    const refused = setupConfigProblems(
      parseEnv("db:migrate", SetupConfigSchema, { ...migrate, ALLOW_DEMO_SECRETS: "false" }),
    ).join("\n");
    for (const name of ["DATABASE_ADMIN_URL", "DATABASE_ETL_URL", "DATABASE_READER_URL"])
      expect(refused).toContain(name);
  });

  it("a service's settings reach it from docker/.env.example under the variable's own name", async () => {
    // A variable of .env.example that a service reads must be passed through to that service
    // (never fixed or renamed in compose), or changing it in .env would silently do nothing.
    const documented = new Set(envExample.map((e) => e.name));
    for (const app of apps) {
      const environment = serviceEnvironment(service(app));
      for (const name of await serviceEnvNames(app)) {
        if (!documented.has(name)) continue;
        expect(
          interpolationsIn(environment[name] ?? "").map((i) => i.name),
          `${app} ${name}`,
        ).toEqual([name]);
      }
    }
  });
});

describe("docker/.env.example", () => {
  const used = interpolations(compose);
  const usedNames = [...new Set(used.map((i) => i.name))].sort();

  it("documents every variable compose.yml uses, and nothing else", () => {
    const documented = envExample.map((e) => e.name);
    expect(
      documented.filter((name) => !usedNames.includes(name)),
      "documented but unused",
    ).toEqual([]);
    expect(
      usedNames.filter((name) => !documented.includes(name)),
      "used but undocumented",
    ).toEqual([]);
    expect(new Set(documented).size, "no variable twice").toBe(documented.length);
  });

  it("explains each variable in a comment right above it", () => {
    for (const entry of envExample) {
      expect(entry.doc.join(" ").length, `${entry.name} (line ${entry.line})`).toBeGreaterThan(10);
    }
  });

  it("holds the value compose falls back to, so running without a .env means running with it", () => {
    const example = exampleVars();
    for (const { name, fallback, text } of used) {
      if (text.includes(":-"))
        expect(fallback, `${text} vs .env.example ${name}=${example[name]}`).toBe(example[name]);
    }
  });

  it("ships the secrets empty, and compose has no default for them: it refuses to start without them", () => {
    const required = [...new Set(used.filter((i) => i.text.includes(":?")).map((i) => i.name))].sort();
    expect(required).toEqual([
      "DATABASE_ADMIN_URL",
      "DATABASE_ETL_URL",
      "DATABASE_READER_URL",
      "JWT_SECRET",
      "MAIL_FROM",
      "MAIL_UNSUBSCRIBE_SECRET",
      "ODOO_PASSWORD",
      "POSTGRES_PASSWORD",
    ]);
    const example = exampleVars();
    for (const name of required) expect(example[name], name).toBe("");
    // Every secret-looking variable is empty, and says how to make a value (or that it is optional).
    for (const entry of envExample.filter((e) => /(SECRET|PASSWORD|TOKEN|_KEY)$/.test(e.name))) {
      expect(entry.value, entry.name).toBe("");
      expect(urlPassword(entry.value), entry.name).toBeUndefined();
    }
    for (const name of ["POSTGRES_PASSWORD", "JWT_SECRET", "MAIL_UNSUBSCRIBE_SECRET", "ADMIN_PASSWORD"]) {
      const doc = envExample.find((e) => e.name === name)?.doc.join(" ") ?? "";
      expect(doc, name).toMatch(/openssl rand/);
    }
    // Copied to docker/.env as it is, compose refuses to start, and says which variable to set.
    expect(() => composeOnExample()).toThrow(/set [A-Z_]+ in docker\/\.env/);
  });

  it("matches the services' own defaults, except where a container differs from a laptop", () => {
    // Where compose deliberately departs from a schema default, and why.
    const departures: Record<string, string> = {
      REDIS_URL: "the bundled Redis is the `redis` service, not 127.0.0.1",
      CACHE_REDIS_URL:
        "the bundled read cache is the `redis-cache` service (LRU, byte cap), not the queue Redis",
      ODOO_URL: "the demo's Odoo is the odoo-sim service",
      ODOO_DB: "the simulator's database",
      ODOO_USERNAME: "the simulator's login",
      SMTP_URL: "the demo's SMTP server is the mailpit service",
    };
    const example = exampleVars();
    const differing = new Set<string>();
    for (const app of apps) {
      const schema = configSchema(app);
      for (const [name, property] of Object.entries(schema.properties)) {
        if (!(name in example)) continue;
        const fallback = (property as { default?: unknown }).default;
        // Empty is unset: each service keeps its own default (DATABASE_STATEMENT_TIMEOUT_MS), or a
        // value each deployment must give (the secrets, DATABASE_URL, MAIL_FROM).
        if (example[name] === "") continue;
        if (String(fallback ?? "") !== example[name]) differing.add(name);
      }
    }
    expect([...differing].sort()).toEqual(Object.keys(departures).sort());
  });
});

describe("docker/demo.env", () => {
  const demo = demoVars();

  it("is the demo's overlay: variables of docker/.env.example, each explained, none twice", () => {
    const documented = new Set(envExample.map((e) => e.name));
    for (const entry of demoEnv) {
      expect(documented.has(entry.name), `${entry.name} is documented in docker/.env.example`).toBe(true);
      expect(entry.doc.join(" ").length, `${entry.name} (line ${entry.line})`).toBeGreaterThan(10);
    }
    expect(new Set(demoEnv.map((e) => e.name)).size).toBe(demoEnv.length);
    expect(readRepoFile("docker", "demo.env")).toMatch(/^# DEMO ONLY/);
  });

  it("sets every variable compose requires, opts in with ALLOW_DEMO_SECRETS=true, and nothing else is secret", () => {
    const required = [
      ...new Set(
        interpolations(compose)
          .filter((i) => i.text.includes(":?"))
          .map((i) => i.name),
      ),
    ];
    for (const name of required) expect(demo[name], name).toBeTruthy();
    expect(demo.ALLOW_DEMO_SECRETS).toBe("true");
    expect(exampleVars().ALLOW_DEMO_SECRETS).toBe("false");
    // The bundled PostgreSQL's password is the one in migrate's admin URL.
    expect(demo.DATABASE_ADMIN_URL).toBe(
      `postgres://postgres:${demo.POSTGRES_PASSWORD}@postgres:5432/finanzas`,
    );
  });

  it("holds exactly the demo secrets @finanzas/config lets through with ALLOW_DEMO_SECRETS (DEMO_SECRETS)", () => {
    const inFile: Record<string, string> = {};
    for (const [name, value] of Object.entries(demo)) {
      const password = urlPassword(value);
      if (password) inFile[name] = password;
      else if (/(SECRET|PASSWORD|TOKEN|_KEY)$/.test(name) && name !== "POSTGRES_PASSWORD")
        inFile[name] = value;
    }
    // DATABASE_URL: what compose gives the services from DATABASE_READER_URL (the etl-worker's,
    // from DATABASE_ETL_URL, is DEMO_SECRET_ALTERNATIVES').
    expect({ ...inFile, DATABASE_URL: inFile.DATABASE_READER_URL }).toEqual(DEMO_SECRETS);
    expect(DEMO_SECRET_ALTERNATIVES).toEqual({ DATABASE_URL: [inFile.DATABASE_ETL_URL] });
  });
});
