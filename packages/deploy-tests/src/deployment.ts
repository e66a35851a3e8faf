import {
  type ComposeFile,
  type EnvEntry,
  interpolateAll,
  parseCompose,
  parseEnvFile,
  serviceEnvironment,
} from "./compose.js";
import { readRepoFile } from "./repo.js";

/** docker/compose.yml as written (anchors and merge keys resolved, nothing interpolated). */
export const loadCompose = (): ComposeFile => parseCompose(readRepoFile("docker", "compose.yml"));

/** docker/.env.example, entry by entry. */
export const loadEnvExample = (): EnvEntry[] => parseEnvFile(readRepoFile("docker", ".env.example"));

/** docker/demo.env, entry by entry. */
export const loadDemoEnv = (): EnvEntry[] => parseEnvFile(readRepoFile("docker", "demo.env"));

const vars = (entries: EnvEntry[]) => Object.fromEntries(entries.map((entry) => [entry.name, entry.value]));

/** The example configuration as compose reads it with docker/.env.example copied to docker/.env. */
export const exampleVars = (): Record<string, string> => vars(loadEnvExample());

/** The demo's configuration as compose reads it with `--env-file docker/demo.env` (that file alone). */
export const demoVars = (): Record<string, string> => vars(loadDemoEnv());

/** docker/compose.yml as compose runs it on the example configuration (throws: secrets are missing). */
export const composeOnExample = (): ComposeFile => interpolateAll(loadCompose(), exampleVars());

/** docker/compose.yml as compose runs the demo: `--env-file docker/demo.env`. */
export const composeOnDemo = (): ComposeFile => interpolateAll(loadCompose(), demoVars());

/** The environment compose gives `service` in the demo. */
export function composeEnvironment(service: string): Record<string, string> {
  const definition = composeOnDemo().services[service];
  if (!definition) throw new Error(`docker/compose.yml has no service ${service}`);
  return serviceEnvironment(definition);
}
