/**
 * What a Python program of the plugin layer needs, made in test setup only: Pulumi's Python
 * language host (built once into the cache from the host sources beside the repository,
 * ../shared/vendor, as CI has them; a `pulumi-language-python` on PATH is used instead), the
 * Python SDK generated from the plugin's schema by `pulumi package gen-sdk`, and a virtualenv with
 * `pulumi` from PyPI and that SDK. The product never needs any of this.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../../helpers/pulumi";
import { PLUGIN_DIR } from "./yaml-project";

const run = promisify(execFile);
const BUILDER = path.join(REPO_ROOT, "..", "shared", "vendor", "build-pulumi-language-hosts");

/** Directory holding `pulumi-language-python` (and its `-exec`). */
export function pythonHostDir(): string {
  try {
    return path.dirname(execFileSync("sh", ["-c", "command -v pulumi-language-python"], { encoding: "utf8" }).trim());
  } catch {
    // not on PATH: build it below
  }
  const dir = path.join(REPO_ROOT, ".cache", "pulumi", "language-hosts-all");
  if (!existsSync(path.join(dir, "pulumi-language-python"))) {
    if (!existsSync(BUILDER)) throw new Error(`no pulumi-language-python on PATH and no host sources at ${BUILDER}`);
    // The builder keeps hosts already built and writes each only when its build succeeded.
    execFileSync(BUILDER, [dir], { stdio: ["ignore", "ignore", "inherit"] });
  }
  return dir;
}

/**
 * Generate the Python SDK into `<dir>/sdk` and make the virtualenv `<dir>/venv` with `pulumi`
 * (3.x from 3.259.0 on) and the SDK installed. `env` is the CLI's environment (PATH with the host).
 */
export async function pythonEnvironment(dir: string, env: NodeJS.ProcessEnv): Promise<{ venv: string; sdk: string }> {
  const sdk = path.join(dir, "sdk");
  await run("pulumi", ["package", "gen-sdk", path.join(PLUGIN_DIR, "pulumi-resource-vmbranch"), "--language", "python", "--out", sdk], { env, cwd: dir });
  const venv = path.join(dir, "venv");
  await run("python3", ["-m", "venv", venv]);
  const pip = path.join(venv, "bin", "pip");
  await run(pip, ["install", "--quiet", "pulumi>=3.259.0,<4"], { maxBuffer: 16 * 1024 * 1024 });
  await run(pip, ["install", "--quiet", path.join(sdk, "python")], { maxBuffer: 16 * 1024 * 1024 });
  return { venv, sdk };
}
