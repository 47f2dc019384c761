#!/usr/bin/env node
// Build: the SDK and provider compile to dist/ (what `require("vmbranch")` and `vmbranch/sdk`
// load), and the backend CLI is bundled by esbuild into dist/vmbranch.js.
import { execFileSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
rmSync(`${root}dist`, { recursive: true, force: true });
execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });
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
  tsconfig: `${root}tsconfig.json`,
  logLevel: "warning",
});
chmodSync(`${root}dist/vmbranch.js`, 0o755);
