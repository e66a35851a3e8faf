import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO } from "./repo.js";

/** A secret-looking value written in a file of the repository. */
export interface FoundSecret {
  file: string;
  line: number;
  /** The variable, key or option it is given to (`JWT_SECRET`, `password`, `--password`, a URL). */
  name: string;
  value: string;
}

/** A variable, constant or key that holds a secret: JWT_SECRET, ADMIN_PASSWORD, S3_SECRET_ACCESS_KEY… */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|KEY)$/;

interface Pattern {
  /** Groups `name` and `value`. */
  regex: RegExp;
  /** Only where the name is a secret's. */
  named?: boolean;
}

const ENV_LINE: Pattern = { regex: /^(?<name>[A-Z][A-Z0-9_]*)=(?<q>["']?)(?<value>.*)\k<q>$/g, named: true };

/** Patterns of a secret given a literal value on one line, in any file. */
const PATTERNS: Pattern[] = [
  // JWT_SECRET: "…", const SECRET = "…", env.ADMIN_PASSWORD = "…" (a quoted literal, upper-case name)
  {
    regex: /\b(?<name>[A-Z][A-Z0-9_]*)\b["']?\s*[:=]\s*(?<q>["'`])(?<value>[^"'`$\n]+)\k<q>(?!\s*\.)/g,
    named: true,
  },
  // a compose fallback: ${ODOO_PASSWORD:-admin}
  { regex: /\$\{(?<name>[A-Z][A-Z0-9_]*):?-(?<value>[^}]+)\}/g, named: true },
  // "password":"…" in the JSON bodies of curl examples
  { regex: /"(?<name>password|currentPassword|newPassword)"\s*:\s*"(?<value>[^"]+)"/g },
  // --password=… on a command line
  { regex: /(?<name>--password)[= ](?<value>[^\s"'`$]+)/g },
  // a URL with credentials: scheme://user:password@host
  { regex: /(?<name>[a-z][a-z0-9+.-]*:\/\/[^:/@\s"'`]*):(?<value>[^@\s"'`/$]+)@/g },
  // the README's `email` / `password` pairs
  { regex: /`[^`@\s]+@[^`\s]+`\s*\/\s*`(?<value>[^`]+)`(?<name>)/g },
];

/**
 * Every secret-looking literal in one text: values given to a secret's name, passwords in URLs and
 * on command lines, login examples.
 */
export function findSecrets(file: string, text: string): FoundSecret[] {
  const patterns = /(^|\/)[^/]*\.env[^/]*$/.test(file) ? [ENV_LINE, ...PATTERNS] : PATTERNS;
  const found: FoundSecret[] = [];
  text.split("\n").forEach((content, index) => {
    for (const { regex, named } of patterns) {
      for (const match of content.matchAll(regex)) {
        const name = match.groups?.name ?? "";
        const value = match.groups?.value ?? "";
        if (named && !SECRET_NAME.test(name)) continue;
        // made at run time (a template's ${…}), or no letter or digit in it (`***`)
        if (value.includes("${") || !/[A-Za-z0-9]/.test(value)) continue;
        found.push({ file, line: index + 1, name: name || "password", value });
      }
    }
  });
  return found;
}

function walk(dir: string, keep: (path: string) => boolean, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry === ".turbo" || entry === ".git") continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, keep, out);
    else if (keep(relative(REPO, path))) out.push(path);
  }
  return out;
}

/**
 * The files where a secret gets published with the source: docker/ (the env files and compose's
 * fallbacks), every Markdown file, the scripts, and every test, test helper and benchmark.
 */
export function publishingFiles(): string[] {
  const keep = (path: string) =>
    /^docker\/(.*\.env.*|compose\.yml)$/.test(path) ||
    /\.md$/.test(path) ||
    /^scripts\/.*\.(mjs|js|ts|sh)$/.test(path) ||
    /^bench\/.*\.(ts|mjs|js)$/.test(path) ||
    /^(apps|packages)\/[^/]+\/test\/.*\.(ts|mjs|js)$/.test(path) ||
    /^(apps|packages)\/[^/]+\/src\/.*\.test\.ts$/.test(path) ||
    /^packages\/(testing|faults)\/src\/.*\.ts$/.test(path);
  return walk(REPO, keep).sort();
}

/** Every secret-looking literal of the repository's publishing files. */
export function repositorySecrets(): FoundSecret[] {
  return publishingFiles().flatMap((path) => findSecrets(relative(REPO, path), readFileSync(path, "utf8")));
}
