#!/usr/bin/env node
// Build: the SDK and provider compile to dist/ (what `require("vmbranch")` and `vmbranch/sdk`
// load), and the backend CLI is bundled by esbuild into dist/vmbranch.js.
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync } from "node:fs";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
// dist/ is overwritten in place, not removed first: tests running meanwhile keep a working package.
await build({
  entryPoints: [`${root}backend/cli/main.ts`],
  outfile: `${root}dist/vmbranch.js`,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: "inline",
  // Native addon: loaded from node_modules at run time.
  external: ["better-sqlite3"],
  banner: { js: "#!/usr/bin/env node" },
  define: { __VMBRANCH_VERSION__: JSON.stringify(JSON.parse(readFileSync(`${root}package.json`, "utf8")).version) },
  tsconfig: `${root}tsconfig.json`,
  logLevel: "warning",
});
chmodSync(`${root}dist/vmbranch.js`, 0o755);
// The CLI bundle first: it does not depend on the SDK/provider emit below.
execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });
