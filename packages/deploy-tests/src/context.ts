import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The Docker build context: the repository filtered by .dockerignore, with Docker's matching rules
 * (paths relative to the root, `*` and `?` within one path segment, `**` across any number of
 * them, a pattern that matches a directory excludes everything under it, last match wins).
 */
export interface IgnoreRule {
  pattern: string;
  negate: boolean;
  regex: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negate = line.startsWith("!");
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, "").replace(/\/+$/, "");
      return { pattern, negate, regex: patternToRegex(pattern) };
    });
}

function patternToRegex(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === "*" && pattern[i + 1] === "*") {
      const slashAfter = pattern[i + 2] === "/";
      source += slashAfter ? "(?:.*/)?" : ".*";
      i += slashAfter ? 2 : 1;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Whether `path` (relative, `/`-separated) is left out of the context. */
export function isIgnored(path: string, rules: readonly IgnoreRule[]): boolean {
  const parts = path.split("/");
  let ignored = false;
  for (const rule of rules) {
    // A rule matching the path or any directory above it applies to the path.
    for (let n = 1; n <= parts.length; n++) {
      if (rule.regex.test(parts.slice(0, n).join("/"))) {
        ignored = !rule.negate;
        break;
      }
    }
  }
  return ignored;
}

/**
 * Copies the build context of `root` into `dest` and returns the relative paths copied. Exception
 * rules (`!pattern`) are refused: excluded directories are not descended into, so an exception
 * inside one could not be honoured the way Docker does.
 */
export function copyContext(root: string, dest: string): string[] {
  let rules: IgnoreRule[] = [];
  try {
    rules = parseDockerignore(readFileSync(join(root, ".dockerignore"), "utf8"));
  } catch {}
  if (rules.some((r) => r.negate)) throw new Error(".dockerignore: `!` exceptions are not rehearsed");
  const copied: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (isIgnored(path, rules)) continue;
      if (entry.isDirectory()) {
        mkdirSync(join(dest, path), { recursive: true });
        walk(path);
      } else if (entry.isFile()) {
        copyFileSync(join(root, path), join(dest, path));
        copied.push(path);
      }
    }
  };
  mkdirSync(dest, { recursive: true });
  walk("");
  return copied;
}
