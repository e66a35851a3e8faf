import { parse } from "yaml";

/** A compose file as YAML gives it, anchors and `<<` merge keys resolved (as Compose does). */
export function parseCompose(text: string): ComposeFile {
  return parse(text, { merge: true, strict: true, uniqueKeys: true }) as ComposeFile;
}

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean; [key: string]: unknown };
  ports?: (string | Record<string, unknown>)[];
  profiles?: string[];
  container_name?: string;
  stop_grace_period?: string;
  restart?: string;
  volumes?: unknown[];
  [key: string]: unknown;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Interpolation {
  name: string;
  /** The value after `:-` or `-`, when there is one. */
  fallback?: string;
  /** The text as written, e.g. `${LOG_LEVEL:-info}`. */
  text: string;
}

const INTERPOLATION = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** The ${VARIABLE} references in one string (`$$` is a literal dollar, as in Compose). */
export function interpolationsIn(text: string): Interpolation[] {
  const found: Interpolation[] = [];
  for (const match of text.matchAll(INTERPOLATION)) {
    if (match[0] === "$$") continue;
    const name = (match[1] ?? match[4])!;
    const fallback = match[2] === ":-" || match[2] === "-" ? match[3] : undefined;
    found.push({ name, ...(fallback !== undefined ? { fallback } : {}), text: match[0] });
  }
  return found;
}

/** Every interpolation anywhere in a parsed compose file (keys and values). */
export function interpolations(value: unknown): Interpolation[] {
  if (typeof value === "string") return interpolationsIn(value);
  if (Array.isArray(value)) return value.flatMap(interpolations);
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, inner]) => [
      ...interpolationsIn(key),
      ...interpolations(inner),
    ]);
  }
  return [];
}

/** Compose's interpolation of one string with `vars` (unset and empty take the `:-` fallback). */
export function interpolate(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(INTERPOLATION, (whole, braced?: string, op?: string, word?: string, bare?: string) => {
    if (whole === "$$") return "$";
    const value = vars[(braced ?? bare)!];
    if (op === ":-") return value ? value : (word ?? "");
    if (op === "-") return value ?? word ?? "";
    if (op === ":?" || op === "?") {
      if (value === undefined || (op === ":?" && value === ""))
        throw new Error(word || `${braced} is required`);
      return value;
    }
    if (op === ":+") return value ? (word ?? "") : "";
    if (op === "+") return value !== undefined ? (word ?? "") : "";
    return value ?? "";
  });
}

/** The environment a service gets from `environment:` (`env_file` is not used by this file). */
export function serviceEnvironment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf("=");
        return eq === -1 ? [entry, ""] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

/** A Compose duration ("1m30s", "40s", "500ms") in milliseconds. */
export function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new Error(`not a duration: ${text}`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

export interface EnvEntry {
  name: string;
  value: string;
  /** The comment lines right above it (without `#`). */
  doc: string[];
  line: number;
}

/** A .env file: KEY=value lines, each with the comment block directly above it. */
export function parseEnvFile(text: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  let doc: string[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "") {
      doc = [];
    } else if (line.startsWith("#")) {
      doc.push(line.replace(/^#+\s?/, ""));
    } else {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (!match) throw new Error(`.env line ${index + 1} is not KEY=value: ${raw}`);
      const value = /^"[^"]*"$|^'[^']*'$/.test(match[2]!) ? match[2]!.slice(1, -1) : match[2]!;
      entries.push({ name: match[1]!, value, doc, line: index + 1 });
      doc = [];
    }
  });
  return entries;
}

/** Interpolates every string in a parsed compose file (keys stay as written). */
export function interpolateAll<T>(value: T, vars: Readonly<Record<string, string>>): T {
  if (typeof value === "string") return interpolate(value, vars) as T;
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, vars)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, vars)])) as T;
  }
  return value;
}
