import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// Scenarios run one file at a time: each starts its own PostgreSQL, Redis and services, and the
// times to recover they measure mean little when another scenario shares the cores.
export default mergeConfig(
  shared,
  defineConfig({
    test: { fileParallelism: false, testTimeout: 240_000, hookTimeout: 120_000 },
  }),
);
