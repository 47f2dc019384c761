/**
 * What a Go program of the plugin layer needs, made in test setup only: Pulumi's Go language host
 * (built into the cache from ../shared/vendor with the other hosts when not on PATH), the Go SDK
 * generated from the plugin's schema by `pulumi package gen-sdk`, given a go.mod of its own, and a
 * program module that requires it (by a `replace`) and `github.com/pulumi/pulumi/sdk/v3`, its
 * modules resolved by `go mod tidy` from the Go module proxy. The product never needs any of this.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { GO_IMPORT_BASE_PATH } from "../../../provider/plugin/schema";
import { pythonHostDir } from "./python-sdk";
import { PLUGIN_DIR } from "./yaml-project";

const run = promisify(execFile);

/** Directory holding `pulumi-language-go` (the same build as the Python host's). */
export function goHostDir(): string {
  try {
    return path.dirname(execFileSync("sh", ["-c", "command -v pulumi-language-go"], { encoding: "utf8" }).trim());
  } catch {
    return pythonHostDir(); // the builder makes all three hosts in one directory
  }
}

/** The Pulumi Go SDK version the programs use (the CLI's). */
const PULUMI_GO_SDK = "v3.259.0";

/**
 * Generate the Go SDK into `<dir>/sdk` and make `programDir` a Go module requiring it, with
 * `main.go` as given. `env` is the CLI's environment (PATH with the host).
 */
export async function goProgram(dir: string, programDir: string, mainGo: string, env: NodeJS.ProcessEnv): Promise<void> {
  const sdk = path.join(dir, "sdk");
  await run("pulumi", ["package", "gen-sdk", path.join(PLUGIN_DIR, "pulumi-resource-vmbranch"), "--language", "go", "--out", sdk], { env, cwd: dir });
  const sdkModule = path.join(sdk, "go", "vmbranch");
  writeFileSync(path.join(sdkModule, "go.mod"), `module ${GO_IMPORT_BASE_PATH}\n\ngo 1.25\n\nrequire github.com/pulumi/pulumi/sdk/v3 ${PULUMI_GO_SDK}\n`);
  mkdirSync(programDir, { recursive: true });
  writeFileSync(
    path.join(programDir, "go.mod"),
    `module vmbranch-go-program\n\ngo 1.25\n\nrequire (\n\tgithub.com/pulumi/pulumi/sdk/v3 ${PULUMI_GO_SDK}\n\t${GO_IMPORT_BASE_PATH} v0.0.0\n)\n\nreplace ${GO_IMPORT_BASE_PATH} => ${sdkModule}\n`,
  );
  writeFileSync(path.join(programDir, "main.go"), mainGo);
  const goEnv = { ...env, GOFLAGS: "-mod=mod" };
  await run("go", ["mod", "tidy"], { cwd: sdkModule, env: goEnv, maxBuffer: 16 * 1024 * 1024 });
  await run("go", ["mod", "tidy"], { cwd: programDir, env: goEnv, maxBuffer: 16 * 1024 * 1024 });
}
