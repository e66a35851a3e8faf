import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

/** A TCP port that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for exit; returns the code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/** Starts `node <entry>` with exactly `env` on top of PATH/HOME (no inherited configuration). */
export function startProcess(
  entry: string,
  env: Record<string, string>,
  args: string[] = [],
): ServiceProcess {
  return startNode([...args, entry], env);
}

/** Children started here that have not exited yet. */
const running = new Set<ChildProcess>();
let endsWithParent = false;

/**
 * Children end with the process that started them: when it exits (normally or by process.exit)
 * and when a SIGINT, SIGTERM or SIGHUP ends it, each running child gets SIGTERM. Before, killing
 * only a benchmark's or a test's own process left its servers running. A signal handled by some
 * other listener stays handled there; otherwise it is raised again, so the process still ends as
 * the signal would have ended it.
 */
function endChildrenWithParent(): void {
  if (endsWithParent) return;
  endsWithParent = true;
  const endAll = () => {
    for (const child of running) child.kill("SIGTERM");
  };
  process.once("exit", endAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      endAll();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Starts this Node with `args` (in `cwd`), exactly `env` on top of PATH/HOME, output captured.
 * A suite that raised REDIS_COMMAND_TIMEOUT_MS for itself (a loaded CI runner stalls event loops
 * past the production 2 s) passes it on to the services it starts, unless `env` sets its own.
 */
export function startNode(
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string } = {},
): ServiceProcess {
  const child = spawn(process.execPath, args, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      ...(process.env.REDIS_COMMAND_TIMEOUT_MS
        ? { REDIS_COMMAND_TIMEOUT_MS: process.env.REDIS_COMMAND_TIMEOUT_MS }
        : {}),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  endChildrenWithParent();
  running.add(child);
  child.once("exit", () => running.delete(child));
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
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

/** Polls `url` until it answers 200, or throws with the process output after `timeoutMs`. */
export async function waitForHttpOk(url: string, proc: ServiceProcess, timeoutMs = 20_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`process exited with ${proc.child.exitCode} before ${url} answered:\n${proc.output()}`);
    }
    try {
      const res = await fetch(url);
      const body = await res.text();
      if (res.status === 200) return JSON.parse(body);
      last = `${res.status} ${body}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last}):\n${proc.output()}`);
}
