import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestDatabase,
  deleteQueueKeys,
  dropTestRoles,
  freePort,
  type ServiceProcess,
  TEST_REDIS_URL,
  type TestDatabase,
  testQueuePrefix,
  waitForHttpOk,
} from "@finanzas/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runContainer, startContainer } from "../src/container.js";
import { composeEnvironment, composeOnDemo } from "../src/deployment.js";
import { parseDockerfile } from "../src/dockerfile.js";
import { type Rehearsal, rehearse } from "../src/rehearse.js";
import { imageSpecs, productionWorkspaceClosure, REPO, readRepoFile, serviceEnvNames } from "../src/repo.js";

// Each image of docker/images.json is built the way docker/Dockerfile builds it, by running that
// file's own instructions (see src/rehearse.ts): turbo prune into a temporary directory, frozen
// install from the pruned lockfile (offline, from the local pnpm store the repository's install
// filled), build, pnpm deploy --prod. Then the image's CMD starts with plain node, must report
// ready, pass the image's HEALTHCHECK, and exit 0 on SIGTERM.
//
// Stand-ins for the build machine, and only those: the store directory (Docker mounts it as a
// cache), offline installs (the store already holds every package), and a turbo cache shared by
// the rehearsals (so packages several images share compile once; each image's own package and
// every install and deploy still run for each image).

const PNPM_VERSION = parseDockerfile(readRepoFile("docker", "Dockerfile"))
  .stages[0]!.instructions.find((i) => i.keyword === "ARG" && i.args.startsWith("PNPM_VERSION="))!
  .args.split("=")[1]!;
/** Build tools that must never reach an image. */
const DEV_TOOLS = ["typescript", "vitest", "@biomejs/biome", "tsx", "turbo", "@vitest/runner", "vite"];
/**
 * Build tools that reach an image anyway, and why. Each entry must still be true (the test fails
 * when the tool is gone, so the exception goes with it).
 */
const KNOWN_DEV_TOOLS: Record<string, string[]> = {
  // @bull-board/api -> valibot declares typescript as an optional peer; pnpm binds it to the
  // workspace's typescript and `pnpm deploy --prod` keeps the binding (~23 MB of dead weight).
  "web-api": ["typescript"],
};

let work: string;
let store: string;
let database: TestDatabase;
const prefix = testQueuePrefix("deploy");

beforeAll(async () => {
  const pnpm = execFileSync("pnpm", ["--version"], { encoding: "utf8" }).trim();
  if (pnpm !== PNPM_VERSION) {
    throw new Error(
      `the rehearsal needs pnpm ${PNPM_VERSION} (docker/Dockerfile's PNPM_VERSION), found ${pnpm}`,
    );
  }
  store = execFileSync("pnpm", ["store", "path", "--silent"], { cwd: REPO, encoding: "utf8" }).trim();
  work = mkdtempSync(join(tmpdir(), "finanzas-images-"));
  database = await createTestDatabase("deploy");
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  await database?.drop();
  await deleteQueueKeys(prefix);
}, 120_000);

async function build(image: string, target: string, app: string): Promise<Rehearsal> {
  // Only one image's filesystems on disk at a time (a few hundred MB each); the turbo cache stays.
  for (const entry of readdirSync(work))
    if (entry !== "turbo-cache") await rm(join(work, entry), { recursive: true });
  return rehearse({
    dockerfile: join(REPO, "docker", "Dockerfile"),
    context: REPO,
    target,
    buildArgs: { APP: app },
    workDir: join(work, image),
    env: {
      PATH: `${join(REPO, "node_modules", ".bin")}:${process.env.PATH}`,
      HOME: process.env.HOME ?? "/root",
    },
    overrides: {
      npm_config_store_dir: store,
      npm_config_offline: "true",
      TURBO_CACHE_DIR: join(work, "turbo-cache"),
    },
  });
}

/** Package names under the deployed node_modules/.pnpm (e.g. `@fastify+redis@7.2.0` → `@fastify/redis`). */
function deployedPackages(appDir: string): string[] {
  const store = join(appDir, "node_modules", ".pnpm");
  if (!existsSync(store)) return [];
  return readdirSync(store)
    .filter((entry) => entry !== "node_modules" && entry !== "lock.yaml")
    .map((entry) => {
      const name = entry.startsWith("@") ? entry.replace("+", "/") : entry;
      return name.slice(0, name.indexOf("@", 1));
    });
}

/** Waits until the simulator answers Odoo's version_info (every Odoo version has it). */
async function waitForOdoo(port: string, sim: ServiceProcess, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (sim.child.exitCode !== null)
      throw new Error(`odoo-sim exited with ${sim.child.exitCode}:\n${sim.output()}`);
    const ok = await fetch(`http://127.0.0.1:${port}/web/webclient/version_info`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`odoo-sim did not answer within ${timeoutMs} ms:\n${sim.output()}`);
}

function summary(image: string, rehearsal: Rehearsal): string {
  const ran = rehearsal.steps.filter((s) => !s.skipped);
  const total = ran.reduce((sum, s) => sum + s.ms, 0);
  const parts = ran.map((s) => {
    const cached = /Cached:\s+(\d+) cached, (\d+) total/.exec(s.output ?? "");
    const note = cached ? ` [${cached[1]}/${cached[2]} from the shared turbo cache]` : "";
    return `${s.command.split(" ").slice(0, 3).join(" ")} ${(s.ms / 1000).toFixed(1)}s${note}`;
  });
  return `${image}: ${(total / 1000).toFixed(1)}s (${parts.join("; ")})`;
}

/** What every image must look like, whatever it runs. */
function expectLeanImage(rehearsal: Rehearsal, app: string) {
  const dir = rehearsal.image.hostWorkdir;
  const top = readdirSync(dir).sort();
  // The deployed package and nothing else: no sources, tests, tsconfig or lockfile.
  expect(
    top.filter((entry) => !["dist", "node_modules", "package.json", "healthcheck.mjs"].includes(entry)),
  ).toEqual([]);
  const packages = deployedPackages(dir);
  expect(packages.filter((name) => DEV_TOOLS.includes(name) || name.startsWith("@types/"))).toEqual(
    KNOWN_DEV_TOOLS[app] ?? [],
  );
  // Exactly the workspace packages the app needs at run time (not @finanzas/testing & co.).
  expect(packages.filter((name) => name.startsWith("@finanzas/")).sort()).toEqual(
    productionWorkspaceClosure(app),
  );
  expect(rehearsal.image.env.NODE_ENV).toBe("production");
  expect(rehearsal.image.user).toBe("node");
  expect(rehearsal.image.entrypoint).toEqual(["/usr/bin/tini", "--"]);
}

// Each rehearsal may build the whole workspace (install, turbo build with no shared cache yet):
// 340–570 s on a loaded 2-core runner, and once past 600 s, hence 20 minutes per image.
describe("image rehearsal (docker/Dockerfile without Docker)", () => {
  for (const spec of imageSpecs().filter((s) => s.target === "service")) {
    it(`${spec.image}: builds lean, reports ready, passes its HEALTHCHECK, exits 0 on SIGTERM`, async () => {
      const rehearsal = await build(spec.image, spec.target, spec.package);
      console.info(summary(spec.image, rehearsal));
      expectLeanImage(rehearsal, spec.package);
      const { image } = rehearsal;
      expect(image.cmd).toEqual(["node", "dist/main.js"]);
      expect(image.healthcheck?.command).toEqual(["node", "healthcheck.mjs"]);

      const portVariable = (await serviceEnvNames(spec.package)).includes("PORT") ? "PORT" : "HEALTH_PORT";
      const port = await freePort();
      // The environment compose gives the service in the demo (docker/demo.env: NODE_ENV=production
      // on the published demo secrets, let through by its ALLOW_DEMO_SECRETS=true), pointed at this
      // machine's stores and a free port instead of the compose network's.
      const env = {
        ...composeEnvironment(spec.image),
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        SHUTDOWN_TIMEOUT_MS: "5000",
        [portVariable]: String(port),
        ...(portVariable === "PORT" ? { HOST: "127.0.0.1" } : {}),
      };
      const service = startContainer(image, image.cmd!, env);
      try {
        const ready = await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, service, 30_000);
        expect(ready).toMatchObject({ ready: true });
        const healthy = await runContainer(image, image.healthcheck!.command, env);
        expect(healthy.code, healthy.output).toBe(0);

        const { code, ms } = await service.stop("SIGTERM");
        expect(code, service.output()).toBe(0);
        expect(ms).toBeLessThan(5_000 + 5_000);
        expect(service.output()).toContain(`"service":"${spec.package}"`);

        // Nothing listens any more: the same HEALTHCHECK must now fail.
        const down = await runContainer(image, image.healthcheck!.command, env);
        expect(down.code).toBe(1);
        expect(down.output).toContain("ECONNREFUSED");
      } finally {
        await service.stop("SIGKILL");
      }
    }, 1_200_000);
  }

  it("migrate: creates and migrates a missing database, then finds it up to date", async () => {
    const spec = imageSpecs().find((s) => s.target === "migrate")!;
    const rehearsal = await build(spec.image, spec.target, spec.package);
    console.info(summary(spec.image, rehearsal));
    expectLeanImage(rehearsal, spec.package);
    const { image } = rehearsal;
    expect(image.cmd).toEqual(["node", "dist/migrate-cli.js"]);

    // A database name that does not exist yet: the migrate command must create it.
    const target = await createTestDatabase("deploy_migrate");
    const roles: string[] = [];
    await target.drop();
    try {
      // compose's environment pointed at this machine: its admin is the test server's, the roles
      // the demo's (their names made unique here, since roles are server-wide).
      const suffix = target.name.slice(-8);
      roles.push(`deploy_owner_${suffix}`, `deploy_etl_${suffix}`, `deploy_reader_${suffix}`);
      const roleUrl = (name: string, password: string) => {
        const url = new URL(target.url);
        url.username = name;
        url.password = password;
        return url.toString();
      };
      const env = {
        ...composeEnvironment(spec.image),
        DATABASE_ADMIN_URL: target.url,
        DATABASE_OWNER_ROLE: roles[0]!,
        DATABASE_ETL_URL: roleUrl(roles[1]!, "demo-etl-password"),
        DATABASE_READER_URL: roleUrl(roles[2]!, "demo-reader-password"),
      };
      const first = await runContainer(image, image.cmd!, env, 60_000);
      expect(first.code, first.output).toBe(0);
      expect(first.output).toContain("database roles applied");
      expect(first.output).toContain("database migrated");
      const second = await runContainer(image, image.cmd!, env, 60_000);
      expect(second.code, second.output).toBe(0);
      expect(second.output).toContain("database already up to date");
    } finally {
      await target.drop();
      await dropTestRoles(roles);
    }
  }, 1_200_000);

  it("odoo-sim: serves the Odoo API and passes its HEALTHCHECK", async () => {
    const spec = imageSpecs().find((s) => s.target === "odoo-sim")!;
    const rehearsal = await build(spec.image, spec.target, spec.package);
    console.info(summary(spec.image, rehearsal));
    expectLeanImage(rehearsal, spec.package);
    const { image } = rehearsal;
    expect(image.cmd?.slice(0, 2)).toEqual(["node", "dist/cli.js"]);
    expect(image.expose).toEqual(["8069"]);

    // compose's command in the demo (its database and login), on a free port
    // of this machine instead of 8069 on the compose network (a later option wins).
    const command = composeOnDemo().services[spec.image]?.command;
    expect(Array.isArray(command)).toBe(true);
    const port = String(await freePort());
    const overrides = ["--host", "127.0.0.1", "--port", port, "--scale", "0.01"];
    const sim = startContainer(image, [...(command as string[]), ...overrides], {});
    try {
      await waitForOdoo(port, sim);
      // The etl-worker's Odoo login in compose is one this simulator accepts.
      const etl = composeEnvironment("etl-worker");
      const login = await fetch(`http://127.0.0.1:${port}/jsonrpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "call",
          params: {
            service: "common",
            method: "authenticate",
            args: [etl.ODOO_DB, etl.ODOO_USERNAME, etl.ODOO_PASSWORD, {}],
          },
        }),
      });
      expect(((await login.json()) as { result: unknown }).result).toEqual(expect.any(Number));
      const refused = await fetch(`http://127.0.0.1:${port}/jsonrpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "call",
          params: {
            service: "common",
            method: "authenticate",
            args: [etl.ODOO_DB, etl.ODOO_USERNAME, "wrong", {}],
          },
        }),
      });
      expect(((await refused.json()) as { result: unknown }).result).toBe(false);
      const probe = image.healthcheck!.command.map((part) => part.replaceAll(":8069/", `:${port}/`));
      // The compose healthcheck is the image's.
      expect(composeOnDemo().services[spec.image]?.healthcheck?.test).toEqual([
        "CMD",
        ...image.healthcheck!.command,
      ]);
      expect(probe).not.toEqual(image.healthcheck!.command);
      const healthy = await runContainer(image, probe, {});
      expect(healthy.code, healthy.output).toBe(0);
      const { code } = await sim.stop("SIGTERM");
      expect(code, sim.output()).toBe(0);
    } finally {
      await sim.stop("SIGKILL");
    }
  }, 1_200_000);
});
