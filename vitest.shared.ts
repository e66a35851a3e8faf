import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources in tests (the "source" export condition),
// so a test run never depends on a stale dist/.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
  },
});
