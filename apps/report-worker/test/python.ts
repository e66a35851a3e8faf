import { spawnSync } from "node:child_process";

let found: string | undefined;

/** The first of $PYTHON, python3, /usr/bin/python3 that can import openpyxl. */
export function pythonWithOpenpyxl(): string {
  if (found) return found;
  const candidates = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    if (spawnSync(python, ["-c", "import openpyxl"]).status === 0) {
      found = python;
      return python;
    }
  }
  throw new Error(
    `no python with openpyxl among ${candidates.join(", ")}: install python3-openpyxl or set PYTHON`,
  );
}

/** Runs `script` with `args` and parses what it prints as JSON; throws with its stderr if it fails. */
export function runPython<T>(script: string, args: string[]): T {
  const run = spawnSync(pythonWithOpenpyxl(), ["-c", script, ...args], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  if (run.status !== 0) throw new Error(`python failed on ${args.join(" ")}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
