/**
 * A real `vmbranch agent` process for tests: started on a data dir (the serve beside it shares
 * the dir, as one machine's agent and control plane do), killed or stopped and started again on
 * the same port, with its output kept for a failing test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { CLI, IMAGE_DIR } from "./backend";

/** A running agent. */
export interface TestAgent {
  url: string;
  /** The file holding its token (`--agent-token-file`). */
  tokenFile: string;
  /** Arguments that make a serve use it. */
  serveArgs: string[];
  pid(): number;
  /** SIGKILL it (its VMs keep running). */
  kill(): Promise<void>;
  /** Start it again on the same data dir and port. */
  start(): Promise<void>;
  /** SIGTERM it and wait until it is gone (VMs keep running). */
  stop(): Promise<void>;
  log(): string;
}

function spawnAgent(dataDir: string, listen: string, output: { text: string }): Promise<{ proc: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, "agent", "--data-dir", dataDir, "--listen", listen], {
      env: { ...process.env, VMBRANCH_IMAGE_DIR: IMAGE_DIR, VMBRANCH_LOG_LEVEL: process.env.VMBRANCH_LOG_LEVEL ?? "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const timer = setTimeout(() => reject(new Error(`agent did not start within 30s: ${output.text}`)), 30_000);
    proc.stdout!.on("data", (d: Buffer) => {
      output.text += d.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(output.text.split("\n").filter((l) => l.includes("listening on")).at(-1) ?? "");
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]! });
      }
    });
    proc.stderr!.on("data", (d: Buffer) => (output.text += d.toString()));
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code}: ${output.text}`));
    });
  });
}

const gone = (proc: ChildProcess) => (proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => proc.once("exit", () => r())));

/** Start an agent on `dataDir` (which must exist). */
export async function startAgent(dataDir: string): Promise<TestAgent> {
  const output = { text: "" };
  let { proc, url } = await spawnAgent(dataDir, "127.0.0.1:0", output);
  const tokenFile = join(dataDir, "agent", "token");
  return {
    get url() {
      return url;
    },
    tokenFile,
    get serveArgs() {
      return ["--agent", url, "--agent-token-file", tokenFile];
    },
    pid: () => proc.pid!,
    async kill() {
      proc.kill("SIGKILL");
      await gone(proc);
    },
    async start() {
      ({ proc, url } = await spawnAgent(dataDir, new URL(url).host, output));
    },
    async stop() {
      proc.kill("SIGTERM");
      await gone(proc);
    },
    log: () => output.text,
  };
}
