/**
 * Import rules over the files imports resolve to, run by `pnpm lint:imports` (in `pnpm lint:root`,
 * part of `pnpm lint` and `pnpm verify`). Biome refuses import cycles (suspicious/noImportCycles in
 * biome.json), but its import restrictions see an import's text, not the file it reaches: the same
 * "../../mailer/src/x.js" is another app's file from apps/web-api/test/ and a file of web-api's own
 * from apps/web-api/src/routes/mailer/. These rules look at the resolved path.
 *
 * An app never imports another app's files: not from another app, a package, a test or a benchmark.
 * What a second app or a package needs moves into a package; an app's package exports
 * (etl-worker/testing) may be imported by its package name, as a declared dependency.
 * @type {import("dependency-cruiser").IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-other-app-files",
      comment:
        "An app imports another app's files by a relative path: move what both need into a package, or import the app's package export by name.",
      severity: "error",
      from: { path: "^apps/([^/]+)/" },
      to: { dependencyTypes: ["local"], path: "^apps/", pathNot: "^apps/$1/" },
    },
    {
      name: "no-app-files-outside-apps",
      comment:
        "A package, benchmark or script imports an app's files by a relative path: move what it needs into a package, or import the app's package export by name.",
      severity: "error",
      from: { pathNot: "^apps/" },
      to: { dependencyTypes: ["local"], path: "^apps/" },
    },
  ],
  options: {
    exclude: { path: "(^|/)(node_modules|dist|\\.turbo)/" },
    doNotFollow: { path: "(^|/)node_modules/" },
    // Type-only imports too: they tie a file to another app's files just the same.
    tsPreCompilationDeps: true,
    // Workspace packages resolve to their sources, as TypeScript sees them.
    enhancedResolveOptions: {
      conditionNames: ["source", "import", "node", "default"],
      exportsFields: ["exports"],
    },
  },
};
