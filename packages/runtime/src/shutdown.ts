import type { Logger } from "@finanzas/logger";
import { errorReason, withTimeout } from "./errors.js";

export interface ShutdownHook {
  name: string;
  run: () => Promise<unknown> | unknown;
  timeoutMs: number;
}

/**
 * Ordered, time-boxed shutdown. Hooks run one after another in the reverse order of registration
 * (what was opened last closes first), each within its own deadline. A hook that fails or overruns
 * is logged and the next one still runs. Resolves with the exit code: 0 when every hook finished.
 */
export class Shutdown {
  readonly #hooks: ShutdownHook[] = [];
  readonly #logger: Logger;
  #running: Promise<number> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  get started(): boolean {
    return this.#running !== undefined;
  }

  add(name: string, run: ShutdownHook["run"], timeoutMs = 5_000): this {
    this.#hooks.push({ name, run, timeoutMs });
    return this;
  }

  run(reason: string): Promise<number> {
    this.#running ??= this.#runHooks(reason);
    return this.#running;
  }

  async #runHooks(reason: string): Promise<number> {
    const started = Date.now();
    this.#logger.info({ reason }, "shutting down");
    let failures = 0;
    for (const hook of [...this.#hooks].reverse()) {
      try {
        await withTimeout(
          Promise.resolve().then(hook.run),
          hook.timeoutMs,
          `${hook.name} did not close within ${hook.timeoutMs} ms`,
        );
        this.#logger.debug({ hook: hook.name }, "closed");
      } catch (error) {
        failures++;
        this.#logger.error({ hook: hook.name, err: error }, `shutdown step failed: ${errorReason(error)}`);
      }
    }
    this.#logger.info({ ms: Date.now() - started, failures }, "shutdown complete");
    return failures === 0 ? 0 : 1;
  }

  /**
   * On the first SIGTERM/SIGINT, run the hooks and exit with their code. A second signal while
   * shutting down exits 1 at once (an impatient operator).
   */
  listen(exit: (code: number) => void = (code) => process.exit(code)): this {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.started) {
        this.#logger.warn({ signal }, "second signal during shutdown: exiting now");
        exit(1);
        return;
      }
      void this.run(signal).then((code) => {
        // Let pino flush its last lines before the process ends.
        this.#logger.flush?.();
        setImmediate(() => exit(code));
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    return this;
  }
}
