/**
 * A reader for the subset of Dockerfile syntax docker/Dockerfile uses, so the rehearsal runs the
 * file's own instructions instead of a copy of them. It follows Docker's rules where they matter
 * for that: `\` continuations (comment lines inside them dropped), stages named with `AS`, ARG
 * scoped to its stage (a global ARG before the first FROM is only a default to re-declare), ENV
 * inherited by child stages, `$VAR` / `${VAR}` / `${VAR:-default}` substitution in the
 * instructions Docker substitutes (not in RUN, which the shell expands), exec-form CMD,
 * ENTRYPOINT and HEALTHCHECK. Anything else it does not know is an error, not a silent skip.
 */

export interface Instruction {
  keyword: string;
  /** The text after the keyword, continuations joined. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  name: string;
  /** The image or stage it starts from. */
  from: string;
  /** True when `from` is another stage of this file. */
  fromStage: boolean;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

const KNOWN = new Set([
  "FROM",
  "ARG",
  "ENV",
  "WORKDIR",
  "COPY",
  "RUN",
  "CMD",
  "ENTRYPOINT",
  "HEALTHCHECK",
  "LABEL",
  "EXPOSE",
  "USER",
  "STOPSIGNAL",
]);

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split("\n");
  const instructions: Instruction[] = [];
  let current: { text: string; line: number } | undefined;
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || (trimmed === "" && !current)) return;
    const continued = trimmed.endsWith("\\");
    const piece = continued ? trimmed.slice(0, -1).trimEnd() : trimmed;
    if (current) current.text += ` ${piece}`;
    else current = { text: piece, line: index + 1 };
    if (!continued) {
      const match = /^(\S+)\s*(.*)$/s.exec(current.text);
      if (match) {
        const keyword = match[1]!.toUpperCase();
        if (!KNOWN.has(keyword)) throw new Error(`Dockerfile line ${current.line}: unsupported ${keyword}`);
        instructions.push({ keyword, args: match[2]!.trim(), line: current.line });
      }
      current = undefined;
    }
  });
  if (current) throw new Error(`Dockerfile line ${current.line}: continuation runs past the end`);

  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match)
        throw new Error(`Dockerfile line ${instruction.line}: cannot read FROM ${instruction.args}`);
      const from = match[1]!;
      stages.push({
        name: match[2] ?? String(stages.length),
        from,
        fromStage: stages.some((s) => s.name === from),
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (instruction.keyword !== "ARG") {
        throw new Error(`Dockerfile line ${instruction.line}: only ARG may come before FROM`);
      }
      const [name, value] = splitArg(instruction.args);
      globalArgs.set(name, value);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

export function splitArg(args: string): [string, string | undefined] {
  const eq = args.indexOf("=");
  return eq === -1
    ? [args.trim(), undefined]
    : [args.slice(0, eq).trim(), unquote(args.slice(eq + 1).trim())];
}

function unquote(value: string): string {
  return /^".*"$/.test(value) || /^'.*'$/.test(value) ? value.slice(1, -1) : value;
}

/** `key=value key2="value 2"` pairs, as in ENV and LABEL. */
export function parsePairs(args: string, line = 0): [string, string][] {
  const pairs: [string, string][] = [];
  const re = /\s*([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']*)\s*/y;
  const text = args.trim();
  let index = 0;
  while (index < text.length) {
    re.lastIndex = index;
    const match = re.exec(text);
    if (!match) throw new Error(`Dockerfile line ${line}: cannot read key=value pairs in "${args}"`);
    pairs.push([match[1]!, unquote(match[2]!)]);
    index = re.lastIndex;
  }
  return pairs;
}

/** Docker's substitution: $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative}. Unset is empty. */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      _m,
      braced: string | undefined,
      op: string | undefined,
      word: string | undefined,
      bare: string | undefined,
    ) => {
      const value = vars.get((braced ?? bare)!) ?? "";
      if (op === "-") return value === "" ? (word ?? "") : value;
      if (op === "+") return value === "" ? "" : (word ?? "");
      return value;
    },
  );
}

/** An exec-form (JSON array) CMD, ENTRYPOINT or HEALTHCHECK command. */
export function execForm(args: string, line = 0): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new Error(`Dockerfile line ${line}: use the exec form ["node", ...], not a shell string: ${args}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string") || parsed.length === 0) {
    throw new Error(`Dockerfile line ${line}: expected a non-empty JSON array of strings: ${args}`);
  }
  return parsed;
}

export interface Healthcheck {
  options: Record<string, string>;
  command: string[];
}

export function parseHealthcheck(args: string, line = 0): Healthcheck {
  const match = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.*)$/s.exec(args);
  if (!match) throw new Error(`Dockerfile line ${line}: cannot read HEALTHCHECK ${args}`);
  const options = Object.fromEntries(
    [...match[1]!.matchAll(/--([a-z-]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as [string, string]),
  );
  return { options, command: execForm(match[2]!, line) };
}

export interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

export function parseCopy(args: string, line = 0): Copy {
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith("--")) {
    const flag = words.shift()!;
    if (flag.startsWith("--from=")) from = flag.slice("--from=".length);
    else if (!/^--(chown|chmod|link)(=|$)/.test(flag)) {
      throw new Error(`Dockerfile line ${line}: unsupported COPY flag ${flag}`);
    }
  }
  if (words.length < 2) throw new Error(`Dockerfile line ${line}: COPY needs a source and a destination`);
  return { ...(from ? { from } : {}), sources: words.slice(0, -1), dest: words.at(-1)! };
}

/** A RUN line without its BuildKit flags (--mount=..., --network=...): the shell command. */
export function runCommand(args: string): { flags: string[]; command: string } {
  const flags: string[] = [];
  let rest = args;
  for (let match = /^(--\S+)\s+/.exec(rest); match; match = /^(--\S+)\s+/.exec(rest)) {
    flags.push(match[1]!);
    rest = rest.slice(match[0].length);
  }
  return { flags, command: rest };
}

/** The stages `target` needs, parents and COPY --from sources first. */
export function stagesFor(dockerfile: Dockerfile, target: string): Stage[] {
  const byName = new Map(dockerfile.stages.map((s) => [s.name, s]));
  const order: Stage[] = [];
  const visit = (name: string, path: string[]) => {
    const stage = byName.get(name);
    if (!stage) throw new Error(`Dockerfile has no stage ${name}`);
    if (order.includes(stage)) return;
    if (path.includes(name))
      throw new Error(`Dockerfile stages form a cycle: ${[...path, name].join(" -> ")}`);
    if (stage.fromStage) visit(stage.from, [...path, name]);
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== "COPY") continue;
      const { from } = parseCopy(instruction.args, instruction.line);
      if (from) visit(from, [...path, name]);
    }
    order.push(stage);
  };
  visit(target, []);
  return order;
}

/** The chain of stages from the base image down to `name`, root first. */
export function ancestry(dockerfile: Dockerfile, name: string): Stage[] {
  const chain: Stage[] = [];
  let stage = dockerfile.stages.find((s) => s.name === name);
  while (stage) {
    chain.unshift(stage);
    const parent = stage.fromStage ? stage.from : undefined;
    stage = parent ? dockerfile.stages.find((s) => s.name === parent) : undefined;
  }
  return chain;
}
