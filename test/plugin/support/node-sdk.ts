/**
 * What a TypeScript program of the plugin layer needs on top of the user install
 * (test/helpers/user-install.ts, the packages as users install them): the Node.js SDK generated
 * and compiled by scripts/gen-sdks.mjs (`pulumi package gen-sdk --language nodejs`, the install's
 * TypeScript and @pulumi/pulumi) and linked into the install's node_modules as `@vmbranch/pulumi`
 * (as `npm install` of the generated package would), and TypeScript project files.
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { UserInstall } from "../../helpers/user-install";
import { GEN_SDKS } from "./yaml-project";

const run = promisify(execFile);

/** The npm name of the generated Node.js SDK (the schema's `language.nodejs.packageName`). */
export const NODE_SDK_PACKAGE = "@vmbranch/pulumi";

/**
 * Generate the Node.js SDK into the install (beside its node_modules, so the script compiles it
 * with the installed TypeScript against the installed @pulumi/pulumi) and link it as
 * `@vmbranch/pulumi`. `env` has the CLI and the Node.js language host on PATH (gen-sdk asks the
 * host to generate).
 */
export async function installNodeSdk(install: UserInstall, env: NodeJS.ProcessEnv): Promise<string> {
  const out = path.join(install.root, "deps", "vmbranch-sdk");
  await run(process.execPath, [GEN_SDKS, out, "nodejs"], { env, cwd: install.root });
  const bin = path.join(out, "nodejs", "bin");
  const link = path.join(install.modules, ...NODE_SDK_PACKAGE.split("/"));
  mkdirSync(path.dirname(link), { recursive: true });
  rmSync(link, { recursive: true, force: true });
  symlinkSync(bin, link);
  return bin;
}

/** The files of a Pulumi TypeScript project running `program` (Pulumi's template settings). */
export function typescriptProject(name: string, program: string, pulumiVersion: string): Record<string, string> {
  return {
    "Pulumi.yaml": `name: ${name}\nruntime: nodejs\n`,
    "package.json": JSON.stringify({ name, main: "index.ts", dependencies: { "@pulumi/pulumi": `^${pulumiVersion}` } }, null, 2),
    "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "es2020", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true }, files: ["index.ts"] }, null, 2),
    "index.ts": program,
  };
}
