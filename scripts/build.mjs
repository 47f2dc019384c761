#!/usr/bin/env node
// Build of the repository's two npm packages (usage: node scripts/build.mjs [lib|server], both by
// default; each package's `prepack` builds its own):
// - `vmbranch` (the repository root): the SDK and the provider compiled by tsc into dist/sdk and
//   dist/provider, which `require("vmbranch")`, `vmbranch/sdk` and `vmbranch/provider/*` load;
// - `vmbranch-server` (backend/): the CLI (`vmbranch serve`, `vmbranch image`) bundled by esbuild
//   into backend/dist/vmbranch.js, with the guest files the image builder reads beside it.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, readFileSync } from "node:fs";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const target = process.argv[2] ?? "all";
if (!["all", "lib", "server"].includes(target)) {
  process.stderr.write("usage: node scripts/build.mjs [lib|server]\n");
  process.exit(2);
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
    external: ["better-sqlite3"],
    banner: { js: "#!/usr/bin/env node" },
    define: { __VMBRANCH_VERSION__: JSON.stringify(serverPackage.version) },
    tsconfig: `${root}tsconfig.json`,
    logLevel: "warning",
  });
  chmodSync(`${root}backend/dist/vmbranch.js`, 0o755);
  // The image builder reads the guest's init files from `guest/` beside the bundle.
  cpSync(`${root}backend/host/images/guest`, `${root}backend/dist/guest`, { recursive: true });
}
if (target !== "server") {
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });
}
