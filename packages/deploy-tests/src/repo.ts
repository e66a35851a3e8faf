import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { envNames, type TObject } from "@finanzas/config";

/** The repository root (this file is packages/deploy-tests/src/repo.ts). */
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));

export const repoPath = (...parts: string[]) => join(REPO, ...parts);
export const readRepoFile = (...parts: string[]) => readFileSync(repoPath(...parts), "utf8");

export interface PackageJson {
  name: string;
  version: string;
  main?: string;
  packageManager?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  name: string;
  dir: string;
  manifest: PackageJson;
}

/** Every workspace package (apps/* and packages/*), by name. */
export function workspacePackages(): Map<string, WorkspacePackage> {
  const packages = new Map<string, WorkspacePackage>();
  for (const group of ["apps", "packages"]) {
    for (const entry of readdirSync(repoPath(group), { withFileTypes: true })) {
      const file = repoPath(group, entry.name, "package.json");
      if (!entry.isDirectory() || !existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, "utf8")) as PackageJson;
      packages.set(manifest.name, { name: manifest.name, dir: `${group}/${entry.name}`, manifest });
    }
  }
  return packages;
}

/** The service apps: every folder under apps/ (folder = package = image = compose service). */
export function serviceApps(): string[] {
  return [...workspacePackages().values()]
    .filter((p) => p.dir.startsWith("apps/"))
    .map((p) => p.name)
    .sort();
}

/** The workspace packages `name` needs at run time: its production dependencies, transitively. */
export function productionWorkspaceClosure(name: string): string[] {
  const packages = workspacePackages();
  const seen = new Set<string>();
  const visit = (current: string) => {
    for (const [dep, spec] of Object.entries(packages.get(current)?.manifest.dependencies ?? {})) {
      if (spec.startsWith("workspace:") && !seen.has(dep)) {
        seen.add(dep);
        visit(dep);
      }
    }
  };
  visit(name);
  return [...seen].sort();
}

/** The variables a service reads: the keys of ConfigSchema in apps/<app>/src/config.ts. */
export async function serviceEnvNames(app: string): Promise<string[]> {
  const module = (await import(pathToFileURL(repoPath("apps", app, "src", "config.ts")).href)) as {
    ConfigSchema?: TObject;
  };
  if (!module.ConfigSchema) throw new Error(`apps/${app}/src/config.ts exports no ConfigSchema`);
  return envNames(module.ConfigSchema).sort();
}

export interface ImageSpec {
  image: string;
  package: string;
  target: string;
}

/** docker/images.json: every image docker/Dockerfile builds. */
export function imageSpecs(): ImageSpec[] {
  const { images } = JSON.parse(readRepoFile("docker", "images.json")) as {
    images: Record<string, { package: string; target: string }>;
  };
  return Object.entries(images).map(([image, spec]) => ({ image, ...spec }));
}
