/**
 * A real `vmbranch serve` for integration tests: its own temporary data dir, an ephemeral port,
 * a random token and an SDK client (which re-validates every response with the SDK schemas).
 * `stop()` ends the server, kills any VM it left (found by the data dir on their command line)
 * and removes every file, so a test leaves nothing behind even when it fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VmbranchClient } from "../../sdk";
import { startAgent } from "./host-agent";
import { startPostgres } from "./postgres";

/** The repository root: the nearest directory up from here with vmbranch's package.json (works bundled too). */
function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    try {
      if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name === "vmbranch") return dir;
    } catch {
      /* keep looking */
    }
    const up = join(dir, "..");
    if (up === dir) throw new Error("cannot find the vmbranch repository root");
    dir = up;
  }
}
const ROOT = repoRoot();
/** The bundled CLI the tests run (scripts/test builds it). */
export const CLI = join(ROOT, "backend", "dist", "vmbranch.js");
/** The shared image store of the test run. */
export const IMAGE_DIR = process.env.VMBRANCH_IMAGE_DIR ?? join(ROOT, ".cache", "images");

/** A running test backend. */
export interface TestBackend {
  url: string;
  token: string;
  dataDir: string;
  /**
   * The URL of the PostgreSQL database the run gave it (`VMBRANCH_TEST_STORE=postgres`), or null:
   * its state is then `vmbranch.db` in `dataDir`, unless the test named its own `--store` in `args`
   * (test/helpers/store-sql.ts reads either).
   */
  storeUrl: string | null;
  client: VmbranchClient;
  /** Raw HTTP for asserting exact statuses and bodies. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever JSON the server sent
  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** SIGKILL the server (VMs keep running) and start it again on the same data dir and port. */
  crashAndRestart(): Promise<void>;
  /** Stop the server gracefully (VMs keep running) and start it again on the same data dir and port, with `args` instead of the original extra arguments. */
  restart(args: string[]): Promise<void>;
  /**
   * Start the server again on the same data dir and port with `env` added to its environment
   * (e.g. other failpoints); a server still running is first ended with `signal`.
   */
  relaunch(env: Record<string, string>, signal?: NodeJS.Signals): Promise<void>;
  /** Resolves once the server process has ended (by itself, e.g. at a `kill` failpoint). */
  serveExited(): Promise<void>;
  /** Stop the server gracefully and leave its VMs and files (start another on `dataDir` to go on). */
  halt(): Promise<void>;
  /** The server's process id. */
  servePid(): number;
  /** What the server wrote so far (its log, on stdout and stderr). */
  serveLog(): string;
  /** Every QEMU process of this backend's VMs. */
  vmPids(): number[];
  /** The directory of its RAM images (recorded by serve in `<data-dir>/ram-dir`), or null before it started. */
  ramDir(): string | null;
  stop(): Promise<void>;
}

type Serve = { proc: ChildProcess; url: string; stderr: () => string };

function startServe(command: string[], dataDir: string, token: string, listen: string, extraArgs: string[], env: Record<string, string> = {}): Promise<Serve> {
  if (command[1] === CLI && !existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
  return new Promise((resolve, reject) => {
    const [exe, ...args] = command as [string, ...string[]];
    const proc = spawn(exe, [...args, "serve", "--data-dir", dataDir, "--listen", listen, ...extraArgs], {
      env: { ...process.env, VMBRANCH_TOKEN: token, VMBRANCH_IMAGE_DIR: IMAGE_DIR, VMBRANCH_LOG_LEVEL: process.env.VMBRANCH_LOG_LEVEL ?? "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start within 30s: ${err}`)), 30_000);
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      err += d.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]!, stderr: () => err });
      }
    });
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (process.env.VMBRANCH_TEST_SERVE_LOG) process.stderr.write(d);
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
}

/** Pids of QEMU processes whose command line mentions `dataDir` (this backend's VMs and loaders). */
function qemuPidsUnder(dataDir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.includes("-name\0vmbranch-") && cmd.includes(dataDir)) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The cgroup directories serve made for process `pid` (…/vmbranch/vm-<uuid>, any hierarchy). */
export function vmCgroupDirs(pid: number): string[] {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*\/vmbranch\/vm-[^/]+)$/.exec(line);
    if (!m) continue;
    const controller = m[1]!.split(",")[0]!;
    dirs.push(join("/sys/fs/cgroup", controller === "" ? "" : controller, m[2]!));
  }
  return dirs;
}

/** The RAM directory serve recorded for `dataDir`, or null. */
function recordedRamDir(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, "ram-dir"), "utf8").trim() || null;
  } catch {
    return null;
  }
}

/** Options of `startBackend`. */
export interface BackendOptions {
  /** Adds `--allow-host-path` for each. */
  allowHostPath?: string[];
  /** More `vmbranch serve` arguments. */
  args?: string[];
  /** Adds to the server's environment. */
  env?: Record<string, string>;
  /** Use this data dir (created by the caller; still removed by stop()). */
  dataDir?: string;
  /**
   * False: no store of the run's choosing (`VMBRANCH_TEST_STORE`), for a test about the SQLite file
   * or one naming its own `--store` in `args`.
   */
  testStore?: boolean;
  /** Run another `vmbranch` CLI (an installed one) instead of the build's. */
  command?: string[];
}

/** Start a backend. */
export async function startBackend(opts: BackendOptions = {}): Promise<TestBackend> {
  // `VMBRANCH_TEST_STORE=postgres`: the state lives in a throwaway PostgreSQL cluster of its own.
  const postgres = process.env.VMBRANCH_TEST_STORE === "postgres" && opts.testStore !== false ? await startPostgres() : null;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "vmbranch-test-")));
  const token = randomBytes(16).toString("hex");
  // `VMBRANCH_TEST_HOST=agent`: serve runs its VMs and disks through a `vmbranch agent` on its data
  // dir; not for a test naming its agents, nor for one of serve's own host (--published-ports).
  const ownHost = opts.args?.includes("--agent") || opts.args?.includes("--published-ports");
  const agent = process.env.VMBRANCH_TEST_HOST === "agent" && !opts.command && !ownHost ? await startAgent(dataDir) : null;
  const extra = [...(opts.allowHostPath ?? []).flatMap((p) => ["--allow-host-path", p]), ...(agent?.serveArgs ?? []), ...(opts.args ?? [])];
  const command = opts.command ?? [process.execPath, CLI];
  // Kept through every restart: the state lives there, whatever other arguments a restart passes.
  const store = postgres ? ["--store", postgres.url()] : [];
  let started: Serve;
  try {
    started = await startServe(command, dataDir, token, "127.0.0.1:0", [...store, ...extra], opts.env);
  } catch (err) {
    postgres?.stop();
    await agent?.stop();
    const ram = recordedRamDir(dataDir);
    if (ram) await rm(ram, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  let { proc, url, stderr } = started;
  const client = new VmbranchClient({ endpoint: url, token, timeoutMs: 120_000 });
  const backend: TestBackend = {
    get url() {
      return url;
    },
    token,
    dataDir,
    storeUrl: postgres ? postgres.url() : null,
    client,
    async http(method, path, body, headers = {}) {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed };
    },
    async crashAndRestart() {
      const port = new URL(url).port;
      proc.kill("SIGKILL");
      await new Promise((r) => proc.once("exit", r));
      ({ proc, url, stderr } = await startServe(command, dataDir, token, `127.0.0.1:${port}`, [...store, ...extra], opts.env));
    },
    async restart(args) {
      const port = new URL(url).port;
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
      ({ proc, url, stderr } = await startServe(command, dataDir, token, `127.0.0.1:${port}`, [...store, ...(agent?.serveArgs ?? []), ...args], opts.env));
    },
    async relaunch(env, signal = "SIGKILL") {
      const port = new URL(url).port;
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once("exit", r));
        proc.kill(signal);
        await gone;
      }
      ({ proc, url, stderr } = await startServe(command, dataDir, token, `127.0.0.1:${port}`, [...store, ...extra], { ...opts.env, ...env }));
    },
    serveExited() {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      const p = proc;
      return new Promise((r) => p.once("exit", () => r()));
    },
    async halt() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    },
    servePid: () => proc.pid!,
    serveLog: () => stderr(),
    vmPids: () => qemuPidsUnder(dataDir),
    ramDir: () => recordedRamDir(dataDir),
    async stop() {
      await client.close().catch(() => undefined);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
      await agent?.stop();
      // VMs outlive serve: end the ones a test left, and the cgroups serve made for them.
      const cgroups: string[] = [];
      for (const pid of qemuPidsUnder(dataDir)) {
        cgroups.push(...vmCgroupDirs(pid));
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
      for (let i = 0; i < 100 && qemuPidsUnder(dataDir).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      // A killed VM whose serve is gone is reaped by init, at its pace; until then its pids group is busy.
      for (const dir of cgroups) {
        for (let i = 0; i < 200; i++) {
          const code = await rmdir(dir).then(() => null, (err: NodeJS.ErrnoException) => err.code);
          if (code !== "EBUSY") break;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const ram = recordedRamDir(dataDir);
      if (ram) await rm(ram, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
      postgres?.stop();
    },
  };
  return backend;
}
