/**
 * Running `vmbranch` as a person types it: a bash command line with the repository's
 * `node_modules/.bin` on PATH (where `npm install` links the workspace's `vmbranch` bin), the
 * connection in VMBRANCH_ENDPOINT / VMBRANCH_TOKEN, and, for progress output, a pseudo-terminal
 * made by `script` (util-linux).
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

/** The repository root. */
export const ROOT = join(__dirname, "../../..");
/** PATH with the repository's npm bin directory first. */
export const PATH_WITH_BIN = `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`;

/** What a command line did. */
export interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}

/** Environment of a person connected to `url` with `token`. */
export function personEnv(url: string, token: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: PATH_WITH_BIN, VMBRANCH_ENDPOINT: url, VMBRANCH_TOKEN: token, ...extra };
  delete env.VMBRANCH_DATA_DIR;
  return env;
}

/** Run `line` in bash and wait for it (the event loop keeps running meanwhile). */
export function sh(line: string, env: NodeJS.ProcessEnv, timeoutMs = 240_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn("bash", ["-c", line], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`'${line}' did not finish in ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status: status ?? -1, stdout, stderr });
    });
  });
}

/** Run `line` on a pseudo-terminal (`script -qfec`): everything it drew, escapes included. */
export function onTerminal(line: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return sh(`script -qfec ${JSON.stringify(line)} /dev/null`, { ...env, TERM: "xterm-256color" });
}

/** True when `script` from util-linux is there (scripts/setup installs util-linux). */
export function haveScript(): boolean {
  return spawnSync("script", ["--version"]).status === 0;
}
