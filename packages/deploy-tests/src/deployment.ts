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

/** The example configuration as compose reads it with `--env-file docker/.env.example`. */
export const exampleVars = (): Record<string, string> =>
  Object.fromEntries(loadEnvExample().map((entry) => [entry.name, entry.value]));

/** docker/compose.yml as compose runs it on the example configuration. */
export const composeOnExample = (): ComposeFile => interpolateAll(loadCompose(), exampleVars());

/** The environment compose gives `service` on the example configuration. */
export function composeEnvironment(service: string): Record<string, string> {
  const definition = composeOnExample().services[service];
  if (!definition) throw new Error(`docker/compose.yml has no service ${service}`);
  return serviceEnvironment(definition);
}
