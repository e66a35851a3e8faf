import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyContext, isIgnored, parseDockerignore } from "../src/context.js";
import {
  ancestry,
  parseCopy,
  parseDockerfile,
  parseHealthcheck,
  parsePairs,
  runCommand,
  stagesFor,
  substitute,
} from "../src/dockerfile.js";
import { rehearse } from "../src/rehearse.js";
import { imageSpecs, REPO, readRepoFile } from "../src/repo.js";

const dockerfile = parseDockerfile(readRepoFile("docker", "Dockerfile"));
const stage = (name: string) => {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`docker/Dockerfile has no stage ${name}`);
  return found;
};
const argDefault = (stageName: string, name: string) =>
  stage(stageName)
    .instructions.find((i) => i.keyword === "ARG" && i.args.startsWith(`${name}=`))
    ?.args.slice(name.length + 1);
const runs = (stageName: string) =>
  stage(stageName)
    .instructions.filter((i) => i.keyword === "RUN")
    .map((i) => i.args);

describe("docker/Dockerfile", () => {
  it("installs the pnpm of packageManager and the turbo of the lockfile", () => {
    const manifest = JSON.parse(readRepoFile("package.json")) as { packageManager: string };
    expect(`pnpm@${argDefault("toolchain", "PNPM_VERSION")}`).toBe(manifest.packageManager);
    const lock = readRepoFile("pnpm-lock.yaml");
    const turbo = /^ {2}\.:\n(?:.*\n)*? {6}turbo:\n {8}specifier: .*\n {8}version: (\S+)/m.exec(lock)?.[1];
    expect(turbo).toBeDefined();
    expect(argDefault("toolchain", "TURBO_VERSION")).toBe(turbo);
    expect(runs("toolchain").join("\n")).toContain('"pnpm@${PNPM_VERSION}" "turbo@${TURBO_VERSION}"');
  });

  it("builds on Node 24 LTS slim and runs on it", () => {
    const bases = dockerfile.stages.filter((s) => !s.fromStage).map((s) => s.from);
    expect(bases).toEqual(["node:24-slim", "node:24-slim"]);
    expect(ancestry(dockerfile, "service").map((s) => s.name)).toEqual(["runtime", "app", "service"]);
  });

  it("prunes, installs from the pruned lockfile with a cached store, builds and deploys production dependencies", () => {
    expect(runs("prune").join("\n")).toContain('turbo prune "$APP" --docker');
    const [install, build, deploy] = runs("build");
    expect(runCommand(install!).flags).toContain(
      "--mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store",
    );
    expect(runCommand(install!).command).toBe("pnpm install --frozen-lockfile");
    // Not through `pnpm exec`: see the comment above this line in the Dockerfile.
    expect(build).toBe('turbo run build --filter="$APP"');
    expect(runCommand(deploy!).command).toMatch(/^pnpm deploy --filter="\$APP" --prod /);
    expect(deploy).not.toContain("--legacy");
    // The install layer sees manifests and the lockfile only: sources come after it.
    const copies = stage("build").instructions.filter((i) => i.keyword === "COPY" || i.keyword === "RUN");
    expect(copies.map((i) => i.args.split(" ")[0])).toEqual([
      "--from=prune",
      "--mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store",
      "--from=prune",
      "tsconfig.base.json",
      "turbo",
      "--mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store",
    ]);
    expect(parseCopy(copies[0]!.args).sources).toEqual(["/repo/pruned/json/"]);
  });

  it("runs as a non-root user under tini, in production mode, with OCI labels", () => {
    const runtime = stage("runtime").instructions;
    expect(runs("runtime").join("\n")).toContain("apt-get install --yes --no-install-recommends tini");
    expect(runtime.find((i) => i.keyword === "ENTRYPOINT")?.args).toBe('["/usr/bin/tini", "--"]');
    expect(runtime.find((i) => i.keyword === "USER")?.args).toBe("node");
    expect(runtime.find((i) => i.keyword === "ENV")?.args).toBe("NODE_ENV=production");
    const labels = Object.fromEntries(
      stage("app")
        .instructions.filter((i) => i.keyword === "LABEL")
        .flatMap((i) => parsePairs(i.args)),
    );
    for (const key of ["source", "revision", "version", "title"]) {
      expect(labels[`org.opencontainers.image.${key}`], key).toMatch(/^\$[A-Z]+$/);
    }
  });

  it("has a target for every image, a HEALTHCHECK wherever something listens", () => {
    for (const spec of imageSpecs()) {
      const chain = ancestry(dockerfile, spec.target).map((s) => s.name);
      expect(chain.slice(0, 2), spec.image).toEqual(["runtime", "app"]);
    }
    const healthcheck = (name: string) =>
      stage(name).instructions.find((i) => i.keyword === "HEALTHCHECK")?.args ?? "";
    expect(parseHealthcheck(healthcheck("service")).command).toEqual(["node", "healthcheck.mjs"]);
    expect(parseHealthcheck(healthcheck("odoo-sim")).command[0]).toBe("node");
    expect(healthcheck("migrate")).toBe("");
    // The default target (the last stage) is the one the five services use.
    expect(dockerfile.stages.at(-1)?.name).toBe("service");
  });
});

describe(".dockerignore", () => {
  const rules = parseDockerignore(readRepoFile(".dockerignore"));

  it("keeps dependencies, builds, caches and secrets out of the build context at any depth", () => {
    for (const path of [
      "node_modules/x",
      "apps/web-api/node_modules/fastify/package.json",
      "packages/db/dist/index.js",
      ".turbo/cache/x",
      "apps/mailer/.turbo/turbo-build.log",
      ".env",
      "docker/.env",
      "apps/web-api/.env.local",
      ".git/HEAD",
      "packages/queue/coverage/index.html",
      "bench/results/run.json",
    ]) {
      expect(isIgnored(path, rules), path).toBe(true);
    }
    for (const path of ["apps/web-api/src/main.ts", "pnpm-lock.yaml", "docker/healthcheck.mjs", ".npmrc"]) {
      expect(isIgnored(path, rules), path).toBe(false);
    }
  });

  it("gives a context without them (the context the rehearsal and Docker build from)", () => {
    const dir = mkdtempSync(join(tmpdir(), "context-"));
    try {
      const context = copyContext(REPO, dir);
      expect(context).toContain("pnpm-lock.yaml");
      expect(context).toContain("tsconfig.base.json");
      const leaked = context.filter((p) =>
        /(^|\/)(node_modules|dist|\.turbo|\.git|coverage)\/|(^|\/)\.env/.test(p),
      );
      expect(leaked).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the Dockerfile reader the rehearsal uses", () => {
  const sample = [
    "# syntax=docker/dockerfile:1.7",
    "ARG GLOBAL=from-global",
    "FROM node:24-slim AS base",
    "ENV A=1 \\",
    "    # a comment inside a continuation",
    '    B="two words"',
    "ARG LOCAL=here",
    "FROM base AS child",
    "ARG GLOBAL",
    "WORKDIR /w",
    "RUN echo $A $B/$GLOBAL/$LOCAL > out.txt",
    "FROM child AS leaf",
    "RUN echo $LOCAL > local.txt",
    'CMD ["node", "x.js"]',
  ].join("\n");

  it("joins continuations, drops comments inside them, scopes ARG to its stage and inherits ENV", async () => {
    const parsed = parseDockerfile(sample);
    expect(parsed.globalArgs.get("GLOBAL")).toBe("from-global");
    expect(parsed.stages.map((s) => [s.name, s.from, s.fromStage])).toEqual([
      ["base", "node:24-slim", false],
      ["child", "base", true],
      ["leaf", "child", true],
    ]);
    expect(parsePairs(parsed.stages[0]!.instructions[0]!.args)).toEqual([
      ["A", "1"],
      ["B", "two words"],
    ]);
    expect(stagesFor(parsed, "leaf").map((s) => s.name)).toEqual(["base", "child", "leaf"]);

    const dir = mkdtempSync(join(tmpdir(), "reader-"));
    try {
      mkdirSync(join(dir, "context"));
      writeFileSync(join(dir, "context", "Dockerfile"), sample);
      const result = await rehearse({
        dockerfile: join(dir, "context", "Dockerfile"),
        context: join(dir, "context"),
        target: "leaf",
        buildArgs: {},
        workDir: join(dir, "work"),
        env: { PATH: process.env.PATH ?? "" },
      });
      const root = result.root("leaf");
      // ENV from the base stage; GLOBAL re-declared takes the global default; LOCAL stays in base.
      expect(readFileSync(join(root, "w", "out.txt"), "utf8")).toBe("1 two words/from-global/\n");
      expect(readFileSync(join(root, "w", "local.txt"), "utf8")).toBe("\n");
      expect(result.image.cmd).toEqual(["node", "x.js"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses what it cannot rehearse faithfully", async () => {
    expect(() => parseDockerfile("FROM a\nONBUILD RUN x")).toThrow("unsupported ONBUILD");
    expect(() => parseHealthcheck("CMD curl -f http://localhost")).toThrow("exec form");
    expect(substitute("${X:-d}-${Y}-$Z", new Map([["Z", "z"]]))).toBe("d--z");
    const dir = mkdtempSync(join(tmpdir(), "reader-"));
    try {
      mkdirSync(join(dir, "context"));
      writeFileSync(
        join(dir, "context", "Dockerfile"),
        "FROM node:24-slim AS a\nFROM a AS b\nRUN rm -rf /var/tmp/x\n",
      );
      await expect(
        rehearse({
          dockerfile: join(dir, "context", "Dockerfile"),
          context: join(dir, "context"),
          target: "b",
          buildArgs: {},
          workDir: join(dir, "work"),
          env: {},
        }),
      ).rejects.toThrow("paths relative to WORKDIR");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
