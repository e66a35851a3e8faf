import type { Logger } from "@finanzas/logger";
import { DependencyError } from "./errors.js";
import { Shutdown } from "./shutdown.js";

/**
 * Runs a service's start-up. The shutdown manager is listening for SIGTERM/SIGINT before any
 * resource opens, so a signal during start-up still closes what was opened. A DependencyError
 * (PostgreSQL or Redis unreachable, …) is printed as one clear line and the process exits 1.
 */
export async function runService(
  logger: Logger,
  start: (shutdown: Shutdown) => Promise<void>,
): Promise<void> {
  const shutdown = new Shutdown(logger).listen();
  logger.info({ pid: process.pid, node: process.version }, "starting");
  try {
    await start(shutdown);
  } catch (error) {
    if (error instanceof DependencyError) {
      logger.fatal(error.message);
    } else {
      logger.fatal(
        { err: error },
        `start-up failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    await shutdown.run("start-up failed");
    logger.flush?.();
    setImmediate(() => process.exit(1));
  }
}
