import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// A healthy Redis answers in a millisecond, but on a loaded CI runner a test worker's event loop can
// stall for seconds, and ioredis's command timer then fires before the answer already waiting in the
// socket is read (a "Command timed out" 500 from a route that did nothing wrong). The tests run with
// a 10 s command timeout, and so do the services they start (startNode passes it on);
// test/redis-down.test.ts sets the production 2 s back to measure it.
export default mergeConfig(shared, defineConfig({ test: { env: { REDIS_COMMAND_TIMEOUT_MS: "10000" } } }));
