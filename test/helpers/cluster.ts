/**
 * A cluster on one machine for tests (docs/cluster.md): a control plane (one serve on a throwaway
 * PostgreSQL) driving agents that each run a host of their own. A host is a mount, pid and
 * network namespace: the data dir's path is that host's own directory (bind-mounted, so it
 * survives a crash of the host as a disk does), /dev/shm is a tmpfs of its own (lost in a crash,
 * as RAM is) and /proc shows only its processes. Its init (pid 1 there) reaps what its agent
 * leaves, so a killed agent's VMs run on; killing the init ends everything on the host at once,
 * as a crash. Each host's network is a veth on a bridge of the cluster's own, its agent serving
 * HTTPS on its address there (so a partition is the link going down); with `network: "shared"`
 * hosts share this machine's network instead, their agents on loopback ports, so what guests
 * publish on 127.0.0.1 is reachable from the test.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, IMAGE_DIR, startBackend, vmCgroupDirs, type TestBackend } from "./backend";
import { startPostgres, type TestPostgres } from "./postgres";

/** One host of the cluster. */
export interface TestHost {
  name: string;
  url: string;
  /** The host's own directory: what it holds at the data dir's path. */
  dir: string;
  /** SIGKILL the host's init: its agent and every VM on it end at once, its RAM goes, its directory stays. */
  crash(): Promise<void>;
  /** Boot a crashed host again: a new namespace over the same directory, its agent on the same port. */
  boot(): Promise<void>;
  /** SIGKILL only the agent (its VMs run on in the host). */
  killAgent(): Promise<void>;
  /** Start the agent again inside the running host. */
  startAgent(): Promise<void>;
  /** Cut the host off the cluster's network (its link down); its VMs run on. `heal` ends it. Own network only. */
  partition(): void;
  heal(): void;
  /** Pids (as seen here) of the QEMU processes running on this host. */
  vmPids(): number[];
  /** Path `path` of the host (its own /dev/shm, its data dir) as this machine reaches it. */
  inside(path: string): string;
  /**
   * Make the host's /proc/meminfo say `availableMib` MiB are available (a file of its own bound
   * over it, as LXCFS gives a container its own figures): what its agent reports and checks from
   * then on. Null gives it the machine's figures back.
   */
  limitMemory(availableMib: number | null): void;
  log(): string;
}

/** A control plane and its hosts. */
export interface TestCluster {
  b: TestBackend;
  hosts: TestHost[];
  host(name: string): TestHost;
  postgres: TestPostgres;
  /** End every host (and its VMs), serve and the database; remove every file. */
  stop(): Promise<void>;
}

// In the new namespaces: the host's directory ($1) over the data dir's path ($0), a /dev/shm of its
// own; once the test has wired its network (`.net-ready` appears), the agent ("$@" after the
// shift) in the background while this shell, pid 1 here, reaps every process its agent leaves
// (dash's wait takes any child).
const HOST_INIT = [
  'mount --bind "$1" "$0" && mount -t tmpfs -o mode=1777 vmbranch-host-shm /dev/shm && shift',
  'while [ ! -e "$0/.net-ready" ]; do sleep 0.05; done; rm -f "$0/.net-ready"',
  '{ "$@" & } && while :; do sleep 1; done',
].join(" && ");

/** The cluster's own network: a bridge and one address per host (its agent's). */
interface ClusterNet {
  bridge: string;
  prefix: string;
  cert: string;
  key: string;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function pidNamespace(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** Pids (as seen here) of every process in pid namespace `ns`. */
function processesIn(ns: string): number[] {
  return readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => pidNamespace(pid) === ns);
}

interface HostOptions {
  name: string;
  /** Its place in the cluster (from 1): its address and link names. */
  index: number;
  dataDir: string;
  hostDir: string;
  token: string;
  /** Its own network on the cluster's bridge; this machine's when absent. */
  net?: ClusterNet;
}

function startHost(o: HostOptions): Promise<TestHost> {
  const output = { text: "" };
  let init: ChildProcess;
  let initPid = 0;
  let ns = "";
  let url = "";
  const net = o.net;
  const address = net ? `${net.prefix}.${10 + o.index}` : null;
  // The bridge's end of the host's link (the other end is the host's eth0).
  const link = net ? `${net.bridge}h${o.index}` : "";
  let listen = address ? `${address}:7481` : "127.0.0.1:0";
  const cgroups = new Set<string>();
  const agentArgs = () => [
    process.execPath, CLI, "agent", "--data-dir", o.dataDir, "--listen", listen, "--host-name", o.name, ...(net ? ["--tls-cert", net.cert, "--tls-key", net.key] : []),
  ];
  const agentEnv = () => ({ ...process.env, VMBRANCH_IMAGE_DIR: IMAGE_DIR, VMBRANCH_AGENT_TOKEN: o.token, VMBRANCH_LOG_LEVEL: process.env.VMBRANCH_LOG_LEVEL ?? "warn" });
  const nsFlags = () => ["--mount", "--pid", ...(net ? ["--net"] : [])];

  /** Resolves with the agent's URL once `proc` (or the agent behind it) says it listens. */
  const listening = (proc: ChildProcess, from: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`host ${o.name}: agent did not start within 30s: ${output.text}`)), 30_000);
      const look = () => {
        const m = /listening on (https?:\/\/\S+)/.exec(output.text.slice(from));
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      proc.stdout!.on("data", (d: Buffer) => {
        output.text += d.toString();
        look();
      });
      proc.stderr!.on("data", (d: Buffer) => (output.text += d.toString()));
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`host ${o.name}: exited with ${code}: ${output.text}`));
      });
    });

  // The host's init names the agent in its arguments too: only node processes are agents.
  const agentPids = () => processesIn(ns).filter((pid) => cmdline(pid).startsWith(`${process.execPath}\0`) && cmdline(pid).includes("\0agent\0"));
  const vmPids = () => (ns ? processesIn(ns).filter((pid) => cmdline(pid).includes("-name\0vmbranch-")) : []);
  const gone = async (pids: () => number[], what: string) => {
    for (let i = 0; i < 200 && pids().length > 0; i++) await pause(50);
    if (pids().length > 0) throw new Error(`host ${o.name}: ${what} did not end`);
  };

  /** Its link on the bridge, its address, loopback up: the network of a host just booted. */
  const wire = () => {
    if (!net) return;
    const peer = `${net.bridge}p${o.index}`;
    ip("link", "add", link, "type", "veth", "peer", "name", peer);
    ip("link", "set", link, "master", net.bridge, "up");
    ip("link", "set", peer, "netns", String(initPid));
    const inHost = (...args: string[]) => execFileSync("nsenter", ["-t", String(initPid), "--net", "ip", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    inHost("link", "set", peer, "name", "eth0");
    inHost("addr", "add", `${address}/24`, "dev", "eth0");
    inHost("link", "set", "eth0", "up");
    inHost("link", "set", "lo", "up");
  };

  const boot = async () => {
    const from = output.text.length;
    init = spawn("unshare", [...nsFlags(), "--fork", "--mount-proc", "--propagation", "private", "sh", "-c", HOST_INIT, o.dataDir, o.hostDir, ...agentArgs()], {
      env: agentEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const ready = listening(init, from);
    initPid = 0;
    for (let i = 0; i < 100 && !initPid; i++) {
      initPid = childrenOf(init.pid!)[0] ?? 0;
      if (!initPid) await pause(20);
    }
    ns = pidNamespace(initPid) ?? "";
    wire();
    writeFileSync(join(o.hostDir, ".net-ready"), "");
    url = await ready;
    listen = new URL(url).host;
  };

  const host: TestHost = {
    name: o.name,
    dir: o.hostDir,
    get url() {
      return url;
    },
    async crash() {
      for (const pid of vmPids()) vmCgroupDirs(pid).forEach((d) => cgroups.add(d));
      const ended = new Promise((r) => (init.exitCode !== null || init.signalCode !== null ? r(null) : init.once("exit", r)));
      try {
        process.kill(initPid, "SIGKILL");
      } catch {
        /* gone */
      }
      await ended;
      await gone(() => processesIn(ns), "its processes");
      initPid = 0;
      // Its link would go with its network namespace, but the kernel tears that down in its own
      // time: removed now, so a boot (or the next cluster) can make it again.
      if (net) {
        try {
          ip("link", "del", link);
        } catch {
          /* gone with the namespace already */
        }
      }
    },
    boot,
    async killAgent() {
      const pids = agentPids();
      for (const pid of pids) process.kill(pid, "SIGKILL");
      await gone(agentPids, "the agent");
    },
    async startAgent() {
      const from = output.text.length;
      const proc = spawn("nsenter", ["-t", String(initPid), ...nsFlags(), "--", ...agentArgs()], { env: agentEnv(), stdio: ["ignore", "pipe", "pipe"] });
      await listening(proc, from);
    },
    inside: (path) => `/proc/${initPid}/root${path}`,
    limitMemory(availableMib) {
      // In its pid namespace too: mount(8) reads the mount table through /proc/self, which is there only from inside.
      const inHost = (...args: string[]) => execFileSync("nsenter", ["-t", String(initPid), "--mount", "--pid", ...args], { stdio: ["ignore", "ignore", "pipe"] });
      if (availableMib === null) return void inHost("umount", "/proc/meminfo");
      const fake = join(o.hostDir, ".meminfo");
      writeFileSync(fake, readFileSync("/proc/meminfo", "utf8").replace(/^MemAvailable:\s+\d+ kB$/m, `MemAvailable: ${availableMib * 1024} kB`));
      inHost("mount", "--bind", fake, "/proc/meminfo");
    },
    partition: () => ip("link", "set", link, "down"),
    heal: () => ip("link", "set", link, "up"),
    vmPids,
    log: () => output.text,
  };
  // What `stop` needs beyond the interface: the cgroups of VMs a crash ended.
  Object.defineProperty(host, "cgroups", { value: cgroups });
  return boot().then(
    () => host,
    async (err: unknown) => {
      if (initPid) await host.crash().catch(() => undefined);
      else if (init?.pid) process.kill(-init.pid, "SIGKILL");
      throw err;
    },
  );
}

/** How a cluster is started. */
export interface ClusterOptions {
  /** Adds to serve's environment. */
  env?: Record<string, string>;
  /** "own" (default): each host on the cluster's bridge; "shared": this machine's network, agents on loopback. */
  network?: "own" | "shared";
}

/** A bridge of this cluster's own, and a certificate for every host's address on it. */
function clusterNet(dir: string, hosts: number): ClusterNet {
  // Names and addresses of its own: jest runs a layer's files in one process, one cluster each.
  const bridge = `vbc${randomBytes(3).toString("hex")}`;
  const prefix = `10.${200 + randomInt(50)}.${randomInt(250)}`;
  const [cert, key] = [join(dir, "agents.crt"), join(dir, "agents.key")];
  const sans = Array.from({ length: hosts }, (_, i) => `IP:${prefix}.${11 + i}`).join(",");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=vmbranch-test-agents", "-addext", `subjectAltName=${sans}`], { stdio: "ignore" });
  ip("link", "add", bridge, "type", "bridge");
  try {
    ip("addr", "add", `${prefix}.1/24`, "dev", bridge);
    ip("link", "set", bridge, "up");
  } catch (err) {
    ip("link", "del", bridge);
    throw err;
  }
  return { bridge, prefix, cert, key };
}

/** Start PostgreSQL, `names.length` hosts and a serve driving them all. */
export async function startCluster(names: string[], o: ClusterOptions = {}): Promise<TestCluster> {
  const postgres = await startPostgres();
  const dataDir = await mkdtemp(join(tmpdir(), "vmbranch-test-"));
  // The agents' certificate, outside the data dir's path, which every host covers with its own.
  const own = await mkdtemp(join(tmpdir(), "vmbranch-test-cluster-"));
  const hostDirs: string[] = [own];
  const hosts: TestHost[] = [];
  let net: ClusterNet | undefined;
  const stopHosts = async () => {
    const cgroups = new Set<string>();
    for (const h of hosts) {
      for (const pid of h.vmPids()) vmCgroupDirs(pid).forEach((d) => cgroups.add(d));
      (h as unknown as { cgroups: Set<string> }).cgroups.forEach((d) => cgroups.add(d));
      await h.crash();
    }
    if (net) ip("link", "del", net.bridge);
    net = undefined;
    // A VM ended with its host is reaped by the host's end; its pids group empties just after.
    for (const dir of cgroups) {
      for (let i = 0; i < 200; i++) {
        const code = await rmdir(dir).then(() => null, (err: NodeJS.ErrnoException) => err.code);
        if (code !== "EBUSY") break;
        await pause(50);
      }
    }
    for (const d of hostDirs) await rm(d, { recursive: true, force: true });
  };
  try {
    if (o.network !== "shared") net = clusterNet(own, names.length);
    const args = ["--store", postgres.url(), ...(net ? ["--agent-ca", net.cert] : [])];
    for (const [i, name] of names.entries()) {
      const hostDir = await mkdtemp(join(tmpdir(), `vmbranch-test-${name}-`));
      hostDirs.push(hostDir);
      const token = randomBytes(24).toString("base64url");
      const tokenFile = join(dataDir, `${name}.agent-token`);
      writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      const h = await startHost({ name, index: i + 1, dataDir, hostDir, token, ...(net ? { net } : {}) });
      hosts.push(h);
      args.push("--agent", h.url, "--agent-token-file", tokenFile);
    }
    const b = await startBackend({ dataDir, args, env: o.env ?? {}, testStore: false });
    return {
      b, hosts, postgres,
      host: (name) => hosts.find((h) => h.name === name)!,
      async stop() {
        await stopHosts();
        await b.stop();
        postgres.stop();
      },
    };
  } catch (err) {
    await stopHosts();
    await rm(dataDir, { recursive: true, force: true });
    postgres.stop();
    throw err;
  }
}
