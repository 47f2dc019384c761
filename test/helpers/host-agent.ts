/**
 * A real `vmbranch agent` process for tests: started on a data dir (the serve beside it shares
 * the dir, as one machine's agent and control plane do; or, with `ownFilesystem`, in a mount
 * namespace of its own where the data dir's path and /dev/shm are empty tmpfs mounts, as on
 * another machine), killed or stopped and started again on the same port, with its output kept
 * for a failing test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { CLI, IMAGE_DIR, startBackend, type TestBackend } from "./backend";

/** A running agent. */
export interface TestAgent {
  url: string;
  /** The file holding its token (`--agent-token-file`). */
  tokenFile: string;
  /** Arguments that make a serve use it. */
  serveArgs: string[];
  /** Environment a serve using it needs (its token, when not in a file serve can read). */
  serveEnv: Record<string, string>;
  pid(): number;
  /** SIGKILL it (its VMs keep running). */
  kill(): Promise<void>;
  /** Start it again on the same data dir and port. */
  start(): Promise<void>;
  /** SIGTERM it and wait until it is gone (VMs keep running). */
  stop(): Promise<void>;
  log(): string;
}

/** How an agent is run. */
export interface AgentOptions {
  /** In a mount namespace of its own: `dataDir` and /dev/shm are empty tmpfs mounts there. */
  ownFilesystem?: boolean;
  /** Serve HTTPS with these PEM files (serve is then given the certificate as `--agent-ca`). */
  tls?: { cert: string; key: string };
  /** `--host-name`: the host the agent runs (default: its data dir's, else the machine's). */
  hostName?: string;
}

// Mounts the agent's own, empty data dir ($0) and /dev/shm, then runs the agent ("$@").
const OWN_FILESYSTEM = 'mount -t tmpfs -o mode=0700 vmbranch-agent "$0" && mount -t tmpfs -o mode=1777 vmbranch-agent-shm /dev/shm && exec "$@"';

function spawnAgent(dataDir: string, listen: string, output: { text: string }, o: AgentOptions, env: Record<string, string>): Promise<{ proc: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const agent = [process.execPath, CLI, "agent", "--data-dir", dataDir, "--listen", listen, ...(o.tls ? ["--tls-cert", o.tls.cert, "--tls-key", o.tls.key] : []), ...(o.hostName ? ["--host-name", o.hostName] : [])];
    const [exe, ...args] = o.ownFilesystem ? ["unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c", OWN_FILESYSTEM, dataDir, ...agent] : agent;
    // A group of its own: a kill reaches the agent behind unshare too (its VMs have sessions of their own).
    const proc = spawn(exe!, args, {
      env: { ...process.env, VMBRANCH_IMAGE_DIR: IMAGE_DIR, VMBRANCH_LOG_LEVEL: process.env.VMBRANCH_LOG_LEVEL ?? "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
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
export async function startAgent(dataDir: string, o: AgentOptions = {}): Promise<TestAgent> {
  const output = { text: "" };
  // On a filesystem of its own its token file is out of serve's reach: both get it by environment.
  const env: Record<string, string> = o.ownFilesystem ? { VMBRANCH_AGENT_TOKEN: randomBytes(24).toString("base64url") } : {};
  let { proc, url } = await spawnAgent(dataDir, "127.0.0.1:0", output, o, env);
  const tokenFile = join(dataDir, "agent", "token");
  const signal = async (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      /* gone */
    }
    await gone(proc);
  };
  return {
    get url() {
      return url;
    },
    tokenFile,
    get serveArgs() {
      return [...(o.ownFilesystem ? ["--agent", url] : ["--agent", url, "--agent-token-file", tokenFile]), ...(o.tls ? ["--agent-ca", o.tls.cert] : [])];
    },
    serveEnv: env,
    pid: () => proc.pid!,
    kill: () => signal("SIGKILL"),
    async start() {
      ({ proc, url } = await spawnAgent(dataDir, new URL(url).host, output, o, env));
    },
    stop: () => signal("SIGTERM"),
    log: () => output.text,
  };
}

/** A serve whose host is run by an agent on a new data dir, and how to stop both. */
export interface AgentBackend {
  b: TestBackend;
  agent: TestAgent;
  dataDir: string;
  /** Stop the agent and serve; their VMs and the data dir are removed. */
  stop(): Promise<void>;
}

/** Start an agent (with `o`) and a serve using it, on a new data dir; `env` goes to serve. */
export async function startAgentBackend(o: AgentOptions = {}, env: Record<string, string> = {}): Promise<AgentBackend> {
  const dataDir = await mkdtemp(join(tmpdir(), "vmbranch-test-"));
  let agent: TestAgent | undefined;
  try {
    agent = await startAgent(dataDir, o);
    const b = await startBackend({ dataDir, args: agent.serveArgs, env: { ...agent.serveEnv, ...env } });
    const started = agent;
    return {
      b, agent, dataDir,
      async stop() {
        await started.stop();
        await b.stop();
      },
    };
  } catch (err) {
    await agent?.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
