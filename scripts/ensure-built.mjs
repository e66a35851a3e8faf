#!/usr/bin/env node
// Builds the given workspace packages (and what they depend on) through Turborepo's cache,
// printing nothing unless the build fails. Used by the root commands that run a built CLI:
//   node scripts/ensure-built.mjs @finanzas/db && node packages/db/dist/migrate-cli.js
import { spawnSync } from "node:child_process";

const filters = process.argv.slice(2).map((name) => `--filter=${name}`);
const result = spawnSync("pnpm", ["exec", "turbo", "run", "build", ...filters, "--output-logs=errors-only"], {
  encoding: "utf8",
  stdio: ["ignore", "pipe", "pipe"],
});
if (result.status !== 0) {
  process.stderr.write(result.stdout + result.stderr);
  process.exit(result.status ?? 1);
}
