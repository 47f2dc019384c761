// Test layers (docs/testing.md). Each layer is a jest project; scripts/test runs them in order and
// says how many files of each run at a time (`workers` there).
const transform = { "^.+\\.tsx?$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }] };
const moduleNameMapper = {
  "^vmbranch$": "<rootDir>/provider/index.ts",
  "^vmbranch/sdk$": "<rootDir>/sdk/index.ts",
  "^vmbranch/provider/(.*)$": "<rootDir>/provider/$1",
};
// The real Pulumi engine's late "Resource monitor is terminating" rejections (see the file).
const engineRejections = "<rootDir>/test/helpers/engine-rejections.ts";
const layer = (name, extra = {}) => ({
  displayName: name,
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform,
  moduleNameMapper,
  testEnvironment: "node",
  ...extra,
});

module.exports = {
  projects: [
    layer("unit"),
    layer("backend", { slowTestThreshold: 30 }),
    layer("system", { slowTestThreshold: 60 }),
    // A control plane on PostgreSQL and agents each on a host of its own (namespaces; test/helpers/cluster.ts).
    layer("cluster", { slowTestThreshold: 120 }),
    layer("security", { slowTestThreshold: 60 }),
    layer("faults", { slowTestThreshold: 120 }),
    layer("provider", { slowTestThreshold: 60, setupFilesAfterEnv: [engineRejections] }),
    layer("e2e", { slowTestThreshold: 120, setupFilesAfterEnv: [engineRejections] }),
    layer("examples", { slowTestThreshold: 120, setupFilesAfterEnv: [engineRejections] }),
    // The schema-based plugin with the real CLI and Pulumi YAML (test/plugin).
    layer("plugin", { slowTestThreshold: 120 }),
    // Unikraft Cloud's official SDK drives `vmbranch serve`; it ships as ES modules, so it is compiled like our sources.
    layer("ukc", {
      slowTestThreshold: 120,
      transform: { "^.+\\.[tj]sx?$": transform["^.+\\.tsx?$"] },
      transformIgnorePatterns: ["/node_modules/(?!@unikraft/)"],
    }),
    layer("projects", { slowTestThreshold: 120 }),
    // What operators see (metrics, the CLI, the lineage page) on one shared lineage of real guests.
    layer("operator", { slowTestThreshold: 120 }),
  ],
};
