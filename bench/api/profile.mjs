// Sums the self time of a .cpuprofile (node --cpu-prof) per function and per package.
//   node bench/api/profile.mjs <file.cpuprofile> [top=25]
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error("usage: node bench/api/profile.mjs <file.cpuprofile> [top]");
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const packageOf = (url) => {
  if (!url) return "(native/v8)";
  if (url.startsWith("node:")) return "node:internal";
  const m = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (url.includes("/apps/web-api/")) return "web-api";
  if (url.includes("/packages/")) return `@finanzas/${url.split("/packages/")[1].split("/")[0]}`;
  return url;
};
const fns = new Map();
const pkgs = new Map();
for (const [id, t] of self) {
  const { callFrame: f } = byId.get(id);
  const pkg = packageOf(f.url);
  const name = `${f.functionName || "(anonymous)"} ${pkg}${f.url && !f.url.startsWith("node:") ? `:${f.url.split("/").pop()}:${f.lineNumber + 1}` : f.url ? ` ${f.url}` : ""}`;
  fns.set(name, (fns.get(name) ?? 0) + t);
  pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + t);
}
const pct = (t) => `${((t / total) * 100).toFixed(1)}%`.padStart(6);
console.log(`total sampled ${(total / 1000).toFixed(0)} ms\n\nby package:`);
for (const [k, t] of [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
console.log("\nby function (self):");
for (const [k, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
