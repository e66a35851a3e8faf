import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { IMAGE_WIDE_FILES, selectImages } from "../../../.github/scripts/affected-images.mjs";
import dependabotSchema from "../src/dependabot.schema.json" with { type: "json" };
import { imageSpecs, REPO, readRepoFile, repoPath } from "../src/repo.js";

const WORKFLOWS = readdirSync(repoPath(".github", "workflows")).filter((f) => /\.ya?ml$/.test(f));

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
}
interface Job {
  permissions?: Record<string, string> | string;
  strategy?: { "fail-fast"?: boolean; matrix?: unknown };
  services?: Record<string, { image: string }>;
  steps: Step[];
}
interface Workflow {
  on: unknown;
  permissions?: Record<string, string> | string;
  concurrency?: { group: string; "cancel-in-progress": boolean | string };
  jobs: Record<string, Job>;
}
const workflow = (file: string) => parse(readRepoFile(".github", "workflows", file)) as Workflow;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((job) => job.steps);

/** Errors GitHub's own workflow parser (the one behind its editor and runner) reports. */
async function workflowErrors(name: string, content: string): Promise<string[]> {
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  const errors = result.context.errors.getErrors().map((e) => e.message);
  if (result.value) {
    const template = await convertWorkflowTemplate(result.context, result.value);
    errors.push(...(template.errors ?? []).map((e) => e.Message));
  }
  return [...new Set(errors)];
}

describe("GitHub workflows against GitHub's workflow schema", () => {
  it("finds the two workflows", () => {
    expect(WORKFLOWS.sort()).toEqual(["ci.yml", "images.yml"]);
  });

  for (const file of WORKFLOWS) {
    it(`${file} parses without an error`, async () => {
      expect(await workflowErrors(file, readRepoFile(".github", "workflows", file))).toEqual([]);
    });
  }

  it("reports a misspelt key or a wrong value (the check can fail)", async () => {
    const broken = readRepoFile(".github", "workflows", "ci.yml")
      .replace("runs-on:", "runs_on:")
      .replace("timeout-minutes: 30", "timeout-minutes: soon");
    const errors = (await workflowErrors("ci.yml", broken)).join("\n");
    expect(errors).toContain("runs_on");
    expect(errors).toContain("soon");
  });
});

describe("supply chain and cost", () => {
  const uses = WORKFLOWS.flatMap((file) =>
    readRepoFile(".github", "workflows", file)
      .split("\n")
      .filter((line) => /^\s*-?\s*uses:/.test(line))
      .map((line) => ({ file, line: line.trim().replace(/^-\s*/, "") })),
  );

  it("pins every action to a full commit SHA with its version in a comment", () => {
    expect(uses.length).toBeGreaterThan(5);
    for (const { file, line } of uses) {
      expect(line, file).toMatch(/^uses: [\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it("pins each action to one SHA everywhere", () => {
    const pins = new Map<string, Set<string>>();
    for (const { line } of uses) {
      const [action, rest] = line.replace(/^uses: /, "").split("@") as [string, string];
      pins.set(action, (pins.get(action) ?? new Set()).add(rest));
    }
    for (const [action, versions] of pins) expect([...versions], action).toHaveLength(1);
  });

  it("grants least privilege: read-only by default, package writes only where images are pushed", () => {
    const ci = workflow("ci.yml");
    expect(ci.permissions).toEqual({ contents: "read" });
    for (const job of Object.values(ci.jobs)) expect(job.permissions).toBeUndefined();
    const images = workflow("images.yml");
    expect(images.permissions).toEqual({});
    expect(images.jobs.affected?.permissions).toEqual({ contents: "read", actions: "read" });
    expect(images.jobs.image?.permissions).toEqual({ contents: "read", packages: "write" });
    for (const file of WORKFLOWS) expect(readRepoFile(".github", "workflows", file)).not.toMatch(/write-all/);
    // Checkout never leaves the token in .git/config for later steps.
    for (const file of WORKFLOWS) {
      for (const step of steps(workflow(file)).filter((s) => s.uses?.startsWith("actions/checkout@"))) {
        expect(step.with?.["persist-credentials"], file).toBe(false);
      }
    }
  });

  it("cancels superseded runs", () => {
    for (const file of WORKFLOWS) {
      const { concurrency } = workflow(file);
      expect(concurrency?.group, file).toContain("github.ref");
      expect(concurrency?.["cancel-in-progress"], file).toBeTruthy();
    }
  });
});

describe("ci.yml", () => {
  const ci = workflow("ci.yml");
  const job = ci.jobs.verify!;
  const runs = job.steps.map((s) => s.run ?? "");

  it("tests against PostgreSQL 16 and Redis 7 service containers", () => {
    expect(job.services?.postgres?.image).toBe("postgres:16");
    expect(job.services?.redis?.image).toBe("redis:7");
  });

  it("installs from the lockfile with the pnpm store cached, then lints, typechecks, builds and tests", () => {
    expect(runs).toContain("pnpm install --frozen-lockfile");
    const order = ["pnpm lint", "pnpm typecheck", "pnpm build", "pnpm test"].map((c) => runs.indexOf(c));
    // the fault suite last, once every other suite passed
    const faults = runs.findIndex((r) => r.includes("pnpm test:faults"));
    expect(faults).toBeGreaterThan(runs.indexOf("pnpm test"));
    expect(order.every((i) => i > runs.indexOf("pnpm install --frozen-lockfile"))).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const cache = job.steps.find((s) => s.uses?.startsWith("actions/cache@"));
    expect(cache?.with?.key).toContain("hashFiles('pnpm-lock.yaml')");
    expect(String(cache?.with?.path)).toContain("steps.pnpm-store.outputs.path");
  });

  it("runs on the oldest supported Node and on the images' Node 24", () => {
    const nvmrc = readRepoFile(".nvmrc").trim();
    expect((job.strategy?.matrix as { node: string[] } | undefined)?.node).toEqual([nvmrc, "24"]);
    expect(job.strategy?.["fail-fast"]).toBe(false);
  });
});

describe("images.yml", () => {
  const images = workflow("images.yml");
  const job = images.jobs.image!;
  const build = job.steps.find((s) => s.uses?.startsWith("docker/build-push-action@"))!;
  const meta = job.steps.find((s) => s.uses?.startsWith("docker/metadata-action@"))!;

  it("builds one image per affected service in a matrix that does not stop at the first failure", () => {
    expect(job.strategy?.["fail-fast"]).toBe(false);
    expect(job.strategy?.matrix).toBe("${{ fromJSON(needs.affected.outputs.matrix) }}");
    expect(build.with).toMatchObject({
      context: ".",
      file: "docker/Dockerfile",
      target: "${{ matrix.target }}",
      "cache-from": "type=gha,scope=${{ matrix.image }}",
      "cache-to": "type=gha,mode=max,scope=${{ matrix.image }}",
    });
    expect(String(build.with?.["build-args"])).toContain("APP=${{ matrix.package }}");
    expect(String(build.with?.["build-args"])).toContain("REVISION=${{ github.sha }}");
    expect(build.with?.push).toBe("${{ github.event_name != 'pull_request' }}");
  });

  it("pushes to ghcr.io/<owner>/<repo>/<image>, tagged with the sha, the branch and semver", () => {
    const naming = job.steps.find((s) => s.run?.includes("ghcr.io"))!;
    expect(naming.run).toContain("ghcr.io/${GITHUB_REPOSITORY,,}/$IMAGE");
    const tags = String(meta.with?.tags);
    expect(tags).toContain("type=sha,format=long");
    expect(tags).toContain("type=ref,event=branch");
    expect(tags).toContain("type=semver,pattern={{version}}");
    expect(images.on).toMatchObject({ push: { branches: ["main"], tags: ["v*.*.*"] } });
  });
});

describe("affected images", () => {
  const all = imageSpecs();
  const names = (selected: { image: string }[]) => selected.map((s) => s.image).sort();

  it("builds only the images whose package turbo counts as affected", () => {
    expect(
      names(
        selectImages({
          images: all,
          affectedPackages: ["etl-worker"],
          changedFiles: ["apps/etl-worker/package.json"],
        }),
      ),
    ).toEqual(["etl-worker"]);
    // @finanzas/db changed: turbo lists it and its dependents; the migrate image follows the package.
    expect(
      names(
        selectImages({
          images: all,
          affectedPackages: ["@finanzas/db", "@finanzas/bootstrap", "web-api", "mailer"],
          changedFiles: ["packages/db/src/migrations/x.ts"],
        }),
      ),
    ).toEqual(["mailer", "migrate", "web-api"]);
    expect(selectImages({ images: all, affectedPackages: [], changedFiles: ["README.md"] })).toEqual([]);
  });

  it("builds every image when the recipe or a root manifest changes, or there is nothing to compare with", () => {
    for (const file of ["docker/Dockerfile", ".dockerignore", "pnpm-workspace.yaml"]) {
      expect(IMAGE_WIDE_FILES).toContain(file);
      expect(selectImages({ images: all, affectedPackages: [], changedFiles: [file] })).toHaveLength(
        all.length,
      );
    }
    expect(selectImages({ images: all, affectedPackages: "all", changedFiles: "all" })).toHaveLength(
      all.length,
    );
    // The files the Dockerfile copies from outside the packages are all image-wide.
    for (const copied of ["tsconfig.base.json", "docker/healthcheck.mjs"])
      expect(IMAGE_WIDE_FILES).toContain(copied);
  });

  it("prints a matrix for every image and writes the step outputs when there is no base commit", () => {
    const dir = mkdtempSync(join(tmpdir(), "affected-"));
    try {
      const output = join(dir, "github-output");
      const stdout = execFileSync("node", [repoPath(".github", "scripts", "affected-images.mjs")], {
        cwd: REPO,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", TURBO_SCM_BASE: "", GITHUB_OUTPUT: output },
        stdio: ["ignore", "pipe", "pipe"],
      });
      expect(JSON.parse(stdout)).toEqual({ include: all });
      expect(readFileSync(output, "utf8")).toBe(
        `matrix=${JSON.stringify({ include: all })}\ncount=${all.length}\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("dependabot.yml", () => {
  const config = parse(readRepoFile(".github", "dependabot.yml")) as {
    updates: { "package-ecosystem": string; directory: string }[];
  };
  const validate = new Ajv({ allErrors: true }).compile(dependabotSchema);

  it("is valid against the documented options, and a typo is not", () => {
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    const typo = structuredClone(config) as unknown as { updates: Record<string, unknown>[] };
    typo.updates[0]!["open-pull-request-limit"] = 5;
    expect(validate(typo)).toBe(false);
  });

  it("updates npm, the actions, the Dockerfile's base image and compose's images", () => {
    const watched = config.updates.map((u) => `${u["package-ecosystem"]} ${u.directory}`).sort();
    expect(watched).toEqual(["docker /docker", "docker-compose /docker", "github-actions /", "npm /"]);
  });
});
