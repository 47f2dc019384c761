#!/usr/bin/env node
// Build of the repository's two npm packages (usage: node scripts/build.mjs [lib|server|plugin],
// all by default; each package's `prepack` builds its own), and the generator of the plugin's
// package schema (`node scripts/build.mjs schema`, `npm run schema`: writes
// provider/plugin/schema.json from provider/plugin/schema.ts, which derives it from the SDK's zod
// schemas; the file is checked in and a unit test fails when it is stale; builds never write it):
// - `vmbranch` (the repository root): the SDK and the provider compiled by tsc into dist/sdk and
//   dist/provider, which `require("vmbranch")`, `vmbranch/sdk` and `vmbranch/provider/*` load;
//   the schema-based resource plugin (provider/plugin) bundled for the package as dist/bin/plugin.js
//   (run by its bin, bin/pulumi-resource-vmbranch); and, for use without npm, bundled by esbuild with
//   everything into one executable file, dist/plugin/pulumi-resource-vmbranch, plus the tarball
//   dist/plugin/pulumi-resource-vmbranch-v<version>.tar.gz for `pulumi plugin install --file`;
// - `vmbranch-server` (backend/): the CLI (`vmbranch serve`, `vmbranch image`) bundled by esbuild
//   into backend/dist/vmbranch.js, with the guest files the image builder reads and the lineage page
//   (`/ui`, backend/ui bundled for the browser) beside it.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const target = process.argv[2] ?? "all";
if (!["all", "lib", "server", "plugin", "schema"].includes(target)) {
  process.stderr.write("usage: node scripts/build.mjs [lib|server|plugin|schema]\n");
  process.exit(2);
}

if (target === "schema") {
  // The generator is TypeScript: bundled in memory and run by this Node.js, its JSON written as is.
  const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version;
  const out = await build({
    stdin: { contents: `process.stdout.write(JSON.stringify(require("./provider/plugin/schema").packageSchema(${JSON.stringify(version)}), null, 2) + "\\n");`, resolveDir: root, loader: "ts" },
    bundle: true,
    platform: "node",
    format: "cjs",
    write: false,
    tsconfig: `${root}tsconfig.json`,
    logLevel: "warning",
  });
  const json = execFileSync(process.execPath, ["-"], { input: out.outputFiles[0].text, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  writeFileSync(`${root}provider/plugin/schema.json`, json);
  process.exit(0);
}

// Outputs are overwritten in place, never removed first: tests running meanwhile keep working packages.
if (target !== "lib") {
  const serverPackage = JSON.parse(readFileSync(`${root}backend/package.json`, "utf8"));
  await build({
    entryPoints: [`${root}backend/cli/main.ts`],
    outfile: `${root}backend/dist/vmbranch.js`,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Beside the bundle, not inline: stack traces map back with `node --enable-source-maps`.
    sourcemap: "linked",
    // Native addon: loaded from node_modules at run time (the server package's one dependency).
    // pg-native: the `pg` client's optional libpq binding, which vmbranch never asks for (pg is bundled).
    external: ["better-sqlite3", "pg-native"],
    banner: { js: "#!/usr/bin/env node" },
    define: { __VMBRANCH_VERSION__: JSON.stringify(serverPackage.version) },
    tsconfig: `${root}tsconfig.json`,
    logLevel: "warning",
  });
  chmodSync(`${root}backend/dist/vmbranch.js`, 0o755);
  linkWorkspaceBin("vmbranch", "../../backend/dist/vmbranch.js");
  // The image builder reads the guest's init files from `guest/` beside the bundle.
  cpSync(`${root}backend/host/images/guest`, `${root}backend/dist/guest`, { recursive: true });
  // The lineage page (`/ui`): TypeScript bundled for the browser, with its page and style beside it.
  await build({
    entryPoints: [`${root}backend/ui/app.ts`],
    outfile: `${root}backend/dist/ui/app.js`,
    bundle: true,
    platform: "browser",
    target: ["chrome120", "firefox120", "safari17"],
    format: "iife",
    minify: true,
    tsconfig: `${root}tsconfig.json`,
    logLevel: "warning",
  });
  for (const file of ["index.html", "style.css"]) cpSync(`${root}backend/ui/${file}`, `${root}backend/dist/ui/${file}`);
}
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version;
// The resource plugin (provider/plugin) as one minified CommonJS file; the two builds below differ in what they leave out.
const pluginBuild = {
  entryPoints: [`${root}provider/plugin/main.ts`],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  legalComments: "none",
  define: { __VMBRANCH_VERSION__: JSON.stringify(version) },
  tsconfig: `${root}tsconfig.json`,
  logLevel: "warning",
};
if (target === "all" || target === "lib") {
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });
  // The plugin as the npm package carries it (bin/pulumi-resource-vmbranch runs it): without the
  // package's own dependencies (zod, undici) and without @pulumi/pulumi's gRPC and protobuf code,
  // which come from the @pulumi/pulumi installed beside it, so the package stays small (about 35 kB
  // compressed, where the standalone bundle is 440 kB).
  await build({ ...pluginBuild, outfile: `${root}dist/bin/plugin.js`, external: ["zod", "undici", "@pulumi/pulumi", "@grpc/grpc-js", "google-protobuf"] });
}
if (target === "all" || target === "plugin") {
  const dir = `${root}dist/plugin`;
  const bin = `${dir}/pulumi-resource-vmbranch`;
  // One file with everything (the impl, the SDK, Pulumi's gRPC stubs): the engine runs it as is,
  // from PATH, from a plugin directory, or from an installed tarball, with no node_modules beside it.
  await build({ ...pluginBuild, outfile: bin, banner: { js: "#!/usr/bin/env node" } });
  chmodSync(bin, 0o755);
  execFileSync("tar", ["-czf", `${dir}/pulumi-resource-vmbranch-v${version}.tar.gz`, "-C", dir, "pulumi-resource-vmbranch"]);
}

/**
 * Link `name` into the repository's node_modules/.bin as npm links a workspace's bin. npm skips
 * a bin whose file does not exist at install time, and in a fresh clone the bundle is built after
 * `npm install`; without this, `vmbranch` would be on PATH only after a second install.
 */
function linkWorkspaceBin(name, target) {
  const dir = `${root}node_modules/.bin`;
  if (!existsSync(dir)) return; // packing or installing elsewhere: npm links it there
  try {
    lstatSync(`${dir}/${name}`);
  } catch {
    symlinkSync(target, `${dir}/${name}`);
  }
}
