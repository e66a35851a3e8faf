#!/usr/bin/env node
// @ts-check
// Which images a change affects, as a GitHub Actions matrix (used by .github/workflows/images.yml).
//
//   TURBO_SCM_BASE=<commit> node .github/scripts/affected-images.mjs
//
// An image is affected when turbo counts its package as affected (`turbo ls --affected`: the
// packages changed since TURBO_SCM_BASE, their dependents, and everything when a global input
// such as tsconfig.base.json changed), or when a file every image is built from changed (the
// Dockerfile, the root manifests: IMAGE_WIDE_FILES). Without a usable base commit (first push of a
// branch, a tag, a manual run) every image is affected. The images are listed in
// docker/images.json. Prints the matrix and, on GitHub, writes `matrix` and `count` to
// $GITHUB_OUTPUT.
import { execFileSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Files outside the workspace packages that every image is built from. */
export const IMAGE_WIDE_FILES = [
  ".dockerignore",
  ".github/scripts/affected-images.mjs",
  ".github/workflows/images.yml",
  ".npmrc",
  "docker/Dockerfile",
  "docker/healthcheck.mjs",
  "docker/images.json",
  "package.json",
  "pnpm-workspace.yaml",
  "tsconfig.base.json",
];

/**
 * @typedef {{ image: string, package: string, target: string }} Image
 * @param {{ images: Image[], affectedPackages: string[] | "all", changedFiles: string[] | "all" }} input
 * @returns {Image[]}
 */
export function selectImages({ images, affectedPackages, changedFiles }) {
  if (affectedPackages === "all" || changedFiles === "all") return images;
  if (changedFiles.some((file) => IMAGE_WIDE_FILES.includes(file))) return images;
  return images.filter((image) => affectedPackages.includes(image.package));
}

/** @param {string} root */
export function readImages(root) {
  /** @type {{ images: Record<string, { package: string, target: string }> }} */
  const file = JSON.parse(readFileSync(`${root}/docker/images.json`, "utf8"));
  return Object.entries(file.images).map(([image, spec]) => ({ image, ...spec }));
}

/** @param {string[]} args @param {string} cwd */
const git = (args, cwd) =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/** @param {string} root @param {string | undefined} base */
function usableBase(root, base) {
  if (!base || /^0+$/.test(base)) return undefined;
  try {
    git(["cat-file", "-e", `${base}^{commit}`], root);
    return base;
  } catch {
    return undefined;
  }
}

/** @param {string} root @param {string} base */
function affectedPackages(root, base) {
  const out = execFileSync("pnpm", ["exec", "turbo", "ls", "--affected", "--output=json"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, TURBO_SCM_BASE: base, TURBO_SCM_HEAD: "HEAD" },
  });
  /** @type {{ packages: { items: { name: string }[] } }} */
  const list = JSON.parse(out.slice(out.indexOf("{")));
  return list.packages.items.map((item) => item.name);
}

function main() {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const base = usableBase(root, process.env.TURBO_SCM_BASE);
  const images = readImages(root);
  const selected = base
    ? selectImages({
        images,
        affectedPackages: affectedPackages(root, base),
        changedFiles: git(["diff", "--name-only", `${base}...HEAD`], root)
          .split("\n")
          .filter(Boolean),
      })
    : images;
  const matrix = JSON.stringify({ include: selected });
  const why = base ? `changes since ${base.slice(0, 12)}` : "no base commit to compare with: every image";
  process.stderr.write(
    `${selected.length} of ${images.length} images affected (${why}): ${selected.map((i) => i.image).join(", ") || "none"}\n`,
  );
  process.stdout.write(`${matrix}\n`);
  if (process.env.GITHUB_OUTPUT) {
    appendFileSync(process.env.GITHUB_OUTPUT, `matrix=${matrix}\ncount=${selected.length}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
