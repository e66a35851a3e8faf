import { spawn } from "node:child_process";
import type { ServiceProcess } from "@finanzas/testing";
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
  const child = spawn(process.execPath, args, {
    cwd: image.hostWorkdir,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...image.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    async stop(signal = "SIGTERM") {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const { code } = await exited;
      return { code, ms: Date.now() - started };
    },
  };
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
