import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      // @actions/workflow-parser imports its schema JSON without an import attribute, which only
      // a bundler accepts: let Vite bundle it instead of Node loading it.
      deps: { optimizer: { ssr: { enabled: true, include: ["@actions/workflow-parser"] } } },
    },
  }),
);
