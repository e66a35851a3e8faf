import { createLogger, type Logger } from "@finanzas/logger";

/** A logger for tests: silent unless TEST_LOG_LEVEL asks for lines (`TEST_LOG_LEVEL=debug pnpm test`). */
export function testLogger(service = "test"): Logger {
  return createLogger({
    service,
    version: "test",
    level: process.env.TEST_LOG_LEVEL ?? "silent",
    pretty: false,
  });
}
