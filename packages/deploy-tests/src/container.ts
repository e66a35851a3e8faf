import { type ServiceProcess, startNode } from "@finanzas/testing";
import type { ImageConfig } from "./rehearse.js";

/**
 * Runs an image's command the way the container would, minus the container: in the directory
 * standing for WORKDIR, with the image's ENV under `env`, and `node` meaning this Node. The
 * ENTRYPOINT (tini) is not run: it only forwards signals, which here go to node directly.
 */
export function startContainer(
  image: ImageConfig,
  command: string[],
  env: Record<string, string>,
): ServiceProcess {
  const [program, ...args] = command;
  if (program !== "node") throw new Error(`the rehearsal runs node commands only, not ${program}`);
  return startNode(args, { ...image.env, ...env }, { cwd: image.hostWorkdir });
}

/** Runs a command to completion (a HEALTHCHECK, a one-shot CMD) and returns its exit code and output. */
export async function runContainer(
  image: ImageConfig,
  command: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const proc = startContainer(image, command, env);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), timeoutMs);
  const { code } = await proc.exited;
  clearTimeout(timer);
  return { code, output: proc.output() };
}
