/**
 * `vmbranch agent [--data-dir DIR] [--listen HOST:PORT] [TLS options]`: run this host's VMs and
 * disks for a control plane (`vmbranch serve --agent URL`) until SIGINT/SIGTERM; the VMs keep
 * running when it stops and are attached again by the next start. Owns its arguments, token,
 * lock, signals and the directories it keeps (made again and swept of partial files at start);
 * the calls it answers are backend/agent/agent-app.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { buildAgentApp } from "../agent/agent-app";
import { armFailpoints } from "../host/failpoints";
import { resolveImageDir } from "../host/images";
import { removePartFiles } from "../host/storage/local-storage";
import { tryPidLock } from "../host/util/pid-lock";
import { isDead, readProcStatSync } from "../host/util/proc-stat";
import { UsageError, type CliCommand } from "./command-registry";
import { resolveDataDir } from "./data-dir";
import { dataDirHostName } from "./host-name";
import { parseListen, planListen } from "./listen-policy";
import { parsePortRange } from "./port-range";
import { openLocalHost } from "./local-host";
import { privateDir, readPrivateFile, writePrivateFile } from "./private-paths";
import { DEFAULT_LIMITS, resolveSecret } from "./server";

const USAGE = [
  "usage: vmbranch agent [--data-dir DIR] [--listen HOST:PORT] [--host-name NAME] [--tls-cert FILE --tls-key FILE | --insecure-listen]",
  "                      [--published-ports LOW-HIGH]",
  "",
  "Runs this host's VMs, disks, snapshots and ports for the control plane that connects with",
  "`vmbranch serve --agent URL`. Defaults: data dir $VMBRANCH_DATA_DIR or ~/.vmbranch; listen 127.0.0.1:7481.",
  "The agent's token is $VMBRANCH_AGENT_TOKEN, else <data-dir>/agent/token (generated on first start).",
  "--host-name names this host to the control plane (default: the name the data dir recorded at its first start,",
  "else the machine's host name); a host cannot be renamed later.",
  "A non-loopback --listen needs --tls-cert and --tls-key (PEM), or --insecure-listen for plain HTTP.",
  "--published-ports: where this host picks a port published without a host_port (default: the 2768 ports just",
  "                   below the kernel's ephemeral range, 30000-32767 with Linux's default). A range named here is",
  "                   never left: when it is full, such an instance is refused (409).",
];

/** How long a stopping agent lets calls in flight finish before it exits anyway. */
const SHUTDOWN_GRACE_MS = 3_000;

/** One agent per data dir: its own lock beside serve's, taken over when its holder is gone. */
function lockAgent(dir: string): () => void {
  const alive = (pid: number) => {
    // Our own pid there was written before a reboot (or a host's pid namespace began again) by
    // an agent that happened to have it: this process takes the lock only once.
    if (pid === process.pid) return false;
    const stat = readProcStatSync(pid);
    if (!stat || isDead(stat)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("agent");
    } catch {
      return false;
    }
  };
  const attempt = tryPidLock(join(dir, "agent.pid"), alive);
  if ("holder" in attempt) throw new UsageError(`another vmbranch agent (pid ${attempt.holder}) runs on ${dir}: stop it first`);
  return attempt.release;
}

/** The directories a control plane had the agent make (`dirs.json`), or none. */
function preparedDirs(file: string): string[] {
  try {
    const dirs = JSON.parse(readPrivateFile(file) ?? "[]") as unknown;
    return Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === "string" && d.startsWith("/")) : [];
  } catch {
    return [];
  }
}

/** The `agent` subcommand. */
export const agentCommand: CliCommand = {
  name: "agent",
  summary: "run this host's VMs and disks for a control plane (serve --agent)",
  usage: USAGE,
  async run(args, ctx) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        options: { "data-dir": { type: "string" }, listen: { type: "string" }, "host-name": { type: "string" }, "tls-cert": { type: "string" }, "tls-key": { type: "string" }, "insecure-listen": { type: "boolean" }, "published-ports": { type: "string" } },
      }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { host, port } = parseListen((values.listen as string | undefined) ?? "127.0.0.1:7481");
    const published = parsePortRange("published-ports", values["published-ports"] as string | undefined);
    const plan = planListen(host, { tlsCert: values["tls-cert"] as string | undefined, tlsKey: values["tls-key"] as string | undefined, insecure: values["insecure-listen"] === true });
    if (plan.warning) ctx.stderr(`vmbranch agent: WARNING: ${plan.warning}\n`);
    armFailpoints(ctx.env.VMBRANCH_FAILPOINTS);
    process.umask(0o077);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined, ctx.env);
    const own = join(dataDir, "agent");
    privateDir(dataDir);
    privateDir(own);
    const unlock = lockAgent(own);
    let hostName: string;
    try {
      hostName = dataDirHostName(dataDir, values["host-name"] as string | undefined);
    } catch (err) {
      unlock();
      throw err;
    }
    const log = pino({ level: ctx.env.VMBRANCH_LOG_LEVEL ?? "info", base: { service: "vmbranch-agent" } });
    const tmpDir = join(dataDir, "tmp");
    privateDir(tmpDir);
    // The layout the control plane asked for, made again at every start: after a reboot, the RAM
    // directory in tmpfs is gone, and VMs restored there must find it before serve reconnects.
    const dirsFile = join(own, "dirs.json");
    let prepared = preparedDirs(dirsFile);
    for (const dir of prepared) {
      try {
        privateDir(dir);
      } catch (err) {
        ctx.stderr(`vmbranch agent: WARNING: cannot make ${dir} again: ${(err as Error).message}\n`);
      }
    }
    let local;
    try {
      // A file another host was sending when a previous agent died stays half written under its
      // part name; the lock held says that writer is gone, so nothing will ever finish or remove it.
      const swept = await removePartFiles(prepared, (m) => ctx.stderr(`vmbranch agent: WARNING: ${m}\n`));
      log.info({ removed: swept }, "partial files of transfers cut short removed");
      const token = resolveSecret(join(own, "token"), ctx.env.VMBRANCH_AGENT_TOKEN, "$VMBRANCH_AGENT_TOKEN");
      local = await openLocalHost({ dataDir, imageDir: resolveImageDir(dataDir, ctx.env), tmpDir, consoleLogMaxBytes: DEFAULT_LIMITS.consoleLogMaxBytes, publishedPorts: published ?? null, log });
      const tls = plan.tls ? { key: readFileSync(plan.tls.keyFile), cert: readFileSync(plan.tls.certFile) } : undefined;
      const app = buildAgentApp({
        token, epochFile: join(own, "epoch"), vm: local.vm, storage: local.storage, accelerator: local.accelerator, tls,
        prepareDirs: (dirs) => {
          dirs.forEach(privateDir);
          writePrivateFile(dirsFile, `${JSON.stringify(dirs)}\n`);
          prepared = dirs;
        },
        fileDirs: () => prepared,
        describe: { version: VERSION, hostName, availableMachines: local.qemu.available, outboundNetworkUnavailable: local.outboundNetworkUnavailable },
        logger: false,
      });
      await app.listen({ host, port });
      const addr = app.server.address();
      const bound = typeof addr === "object" && addr ? addr.port : port;
      const url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${bound}`;
      log.info({ url, dataDir, host: hostName }, "vmbranch agent is listening");
      ctx.stdout(`vmbranch agent for host ${hostName} listening on ${url}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      // Long polls in flight are answered as the app closes; the VMs keep running. A call still
      // running (a boot's wait) is not waited out for long: its serve sees the agent gone.
      const now = () => process.exit(0);
      process.once("SIGINT", now);
      process.once("SIGTERM", now);
      setTimeout(now, SHUTDOWN_GRACE_MS).unref();
      await app.close();
      ctx.stdout("vmbranch agent stopped; VMs keep running\n");
    } finally {
      await local?.close();
      unlock();
    }
    setImmediate(() => process.exit(0));
    return 0;
  },
};

declare const __VMBRANCH_VERSION__: string | undefined;
/** Version of this build (from package.json at bundle time). */
const VERSION = typeof __VMBRANCH_VERSION__ === "string" ? __VMBRANCH_VERSION__ : "dev";
