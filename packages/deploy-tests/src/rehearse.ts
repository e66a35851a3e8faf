import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { setPriority } from "node:os";
import { isAbsolute, join, posix } from "node:path";
import { copyContext } from "./context.js";
import {
  type Dockerfile,
  execForm,
  type Healthcheck,
  parseCopy,
  parseDockerfile,
  parseHealthcheck,
  parsePairs,
  runCommand,
  type Stage,
  splitArg,
  stagesFor,
  substitute,
} from "./dockerfile.js";

/**
 * Builds one target of a Dockerfile without Docker, by running its own instructions: every stage
 * the target needs gets a directory standing for its filesystem root; WORKDIR and COPY act on
 * those directories (COPY from the build context as .dockerignore filters it); RUN lines run with
 * `sh -c` in the stage's WORKDIR with the stage's ARG and ENV values. RUN lines of stages built
 * straight on a base image (system setup: apt-get, npm --global) are not run: they would change
 * this machine. The result is the target's filesystem and its image configuration (ENV, WORKDIR,
 * CMD, HEALTHCHECK, ...), so the caller can start CMD the way the container would.
 */
export interface RehearsalOptions {
  dockerfile: string;
  /** The build context (the repository root). */
  context: string;
  target: string;
  buildArgs: Record<string, string>;
  /** An empty directory for the stages' filesystems. */
  workDir: string;
  /**
   * Environment for RUN lines under the stage's own ARG and ENV values: PATH, HOME and what stands
   * in for the build machine (the pnpm store Docker mounts as a cache, offline installs).
   */
  env: Record<string, string>;
  /** Machine-specific settings that win over the Dockerfile's (store directory, turbo cache). */
  overrides?: Record<string, string>;
}

export interface RunStep {
  stage: string;
  line: number;
  command: string;
  ms: number;
  skipped?: string;
  /** The end of what it printed. */
  output?: string;
}

export interface ImageConfig {
  /** WORKDIR inside the image, and the directory standing for it here. */
  workdir: string;
  hostWorkdir: string;
  env: Record<string, string>;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  healthcheck: Healthcheck | undefined;
  user: string | undefined;
  labels: Record<string, string>;
  expose: string[];
}

export interface Rehearsal {
  image: ImageConfig;
  /** Each RUN line met, in order, with how long it took (skipped ones say why). */
  steps: RunStep[];
  /** The directory standing for a stage's filesystem root. */
  root(stage: string): string;
  /** Paths of the build context (after .dockerignore). */
  context: string[];
}

interface StageState {
  root: string;
  system: boolean;
  args: Map<string, string>;
  config: Omit<ImageConfig, "hostWorkdir">;
}

export async function rehearse(options: RehearsalOptions): Promise<Rehearsal> {
  const dockerfile: Dockerfile = parseDockerfile(readFileSync(options.dockerfile, "utf8"));
  const contextDir = join(options.workDir, "context");
  const context = copyContext(options.context, contextDir);
  const states = new Map<string, StageState>();
  const steps: RunStep[] = [];

  const stageRoot = (name: string) => {
    const state = states.get(name);
    if (!state) throw new Error(`stage ${name} was not built`);
    return state.root;
  };

  const plan = stagesFor(dockerfile, options.target);
  // How many stages of the plan start from or copy out of each stage.
  const users = new Map<string, number>();
  for (const stage of plan) {
    const used = [
      ...(stage.fromStage ? [stage.from] : []),
      ...stage.instructions
        .filter((i) => i.keyword === "COPY")
        .flatMap((i) => parseCopy(i.args, i.line).from ?? []),
    ];
    for (const name of new Set(used)) users.set(name, (users.get(name) ?? 0) + 1);
  }

  for (const stage of plan) {
    const parent = stage.fromStage ? states.get(stage.from) : undefined;
    const root = join(options.workDir, `stage-${stage.name}`);
    if (parent && users.get(stage.from) === 1) {
      // Nothing else needs the parent: its filesystem becomes this stage's (no copy).
      renameSync(parent.root, root);
      parent.root = root;
    } else {
      mkdirSync(root, { recursive: true });
      if (parent) cpSync(parent.root, root, { recursive: true, verbatimSymlinks: true });
    }
    const state: StageState = {
      root,
      system: !stage.fromStage,
      args: new Map(),
      config: parent
        ? structuredClone(parent.config)
        : {
            workdir: "/",
            env: {},
            entrypoint: undefined,
            cmd: undefined,
            healthcheck: undefined,
            user: undefined,
            labels: {},
            expose: [],
          },
    };
    states.set(stage.name, state);
    for (const instruction of stage.instructions) {
      await apply(stage, instruction.keyword, instruction.args, instruction.line, state);
    }
  }

  async function apply(stage: Stage, keyword: string, args: string, line: number, state: StageState) {
    const vars = () => new Map([...Object.entries(state.config.env), ...state.args]);
    const config = state.config;
    const where = `Dockerfile line ${line} (${stage.name})`;
    switch (keyword) {
      case "ARG": {
        const [name, fallback] = splitArg(args);
        const value =
          options.buildArgs[name] ??
          (fallback !== undefined ? substitute(fallback, vars()) : dockerfile.globalArgs.get(name));
        state.args.set(name, value ?? "");
        return;
      }
      case "ENV":
        for (const [key, value] of parsePairs(args, line)) config.env[key] = substitute(value, vars());
        return;
      case "LABEL":
        for (const [key, value] of parsePairs(args, line)) config.labels[key] = substitute(value, vars());
        return;
      case "WORKDIR": {
        const dir = substitute(args, vars());
        config.workdir = posix.resolve(config.workdir, dir);
        mkdirSync(join(state.root, config.workdir), { recursive: true });
        return;
      }
      case "COPY": {
        const copy = parseCopy(substitute(args, vars()), line);
        const sourceRoot = copy.from ? stageRoot(copy.from) : contextDir;
        const dest = posix.resolve(config.workdir, copy.dest);
        for (const source of copy.sources) {
          if (/[*?[]/.test(source)) throw new Error(`${where}: COPY wildcards are not rehearsed`);
          const from = join(sourceRoot, copy.from ? posix.resolve("/", source) : posix.normalize(source));
          if (!existsSync(from)) throw new Error(`${where}: COPY source ${source} does not exist`);
          const intoDir = copy.dest.endsWith("/") || copy.sources.length > 1 || statSync(from).isDirectory();
          const target = statSync(from).isDirectory()
            ? join(state.root, dest)
            : join(state.root, intoDir ? posix.join(dest, posix.basename(source)) : dest);
          cpSync(from, target, { recursive: true, verbatimSymlinks: true });
        }
        return;
      }
      case "RUN": {
        const { command } = runCommand(args);
        if (state.system) {
          steps.push({ stage: stage.name, line, command, ms: 0, skipped: "system setup on the base image" });
          return;
        }
        if (/(^|[\s=;&|(<>])\/[A-Za-z]/.test(command)) {
          throw new Error(`${where}: rehearsed RUN lines must use paths relative to WORKDIR: ${command}`);
        }
        const started = Date.now();
        const cwd = join(state.root, config.workdir);
        const env = {
          ...options.env,
          ...Object.fromEntries(state.args),
          ...config.env,
          ...options.overrides,
        };
        const output = await runShell(command, cwd, env, where);
        steps.push({
          stage: stage.name,
          line,
          command,
          ms: Date.now() - started,
          output: output.slice(-2000),
        });
        return;
      }
      case "CMD":
        config.cmd = execForm(args, line);
        return;
      case "ENTRYPOINT":
        config.entrypoint = execForm(args, line);
        // Docker resets CMD when a stage sets ENTRYPOINT.
        config.cmd = undefined;
        return;
      case "HEALTHCHECK":
        config.healthcheck = parseHealthcheck(args, line);
        return;
      case "USER":
        config.user = substitute(args, vars());
        return;
      case "EXPOSE":
        config.expose.push(...substitute(args, vars()).split(/\s+/));
        return;
      case "STOPSIGNAL":
        return;
      default:
        throw new Error(`${where}: ${keyword} is not rehearsed`);
    }
  }

  const target = states.get(options.target)!;
  return {
    image: { ...target.config, hostWorkdir: join(target.root, target.config.workdir) },
    steps,
    root: stageRoot,
    context,
  };
}

/** Runs a shell command at low CPU priority; rejects with its output when it fails. */
export function runShell(command: string, cwd: string, env: Record<string, string>, label: string) {
  if (!isAbsolute(cwd)) throw new Error(`cwd must be absolute: ${cwd}`);
  return new Promise<string>((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    // Builds share this machine with the other test suites: let them keep their timing.
    if (child.pid) {
      try {
        setPriority(child.pid, 10);
      } catch {}
    }
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) resolve(output);
      else
        reject(
          new Error(`${label}: \`${command}\` failed (${signal ?? `exit ${code}`}):\n${output.slice(-6000)}`),
        );
    });
  });
}
