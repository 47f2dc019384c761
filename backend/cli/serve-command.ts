/**
 * `vmbranch serve [--data-dir DIR] [--listen HOST:PORT] [--allow-host-path DIR]… [TLS and limit
 * options]`: run the REST service in the foreground until SIGINT/SIGTERM (or until another serve takes its state). Owns argument parsing
 * and signals; wiring is server.ts, the listen rules listen-policy.ts.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { AgentEndpoint } from "../agent/agent-client";
import { isLoopbackHost } from "../api/access";
import { armFailpoints } from "../host/failpoints";
import { checkPostgresUrl } from "../store/postgres/connection";
import { resolveDataDir } from "./data-dir";
import { UsageError, type CliCommand } from "./command-registry";
import { checkHostName } from "./host-name";
import { parseListen, planListen } from "./listen-policy";
import { parsePortRange } from "./port-range";
import { DEFAULT_LIMITS, startServer, type ServeLimits } from "./server";

export { parseListen };

/** How long a stopping serve lets requests in flight finish before it exits anyway. */
const SHUTDOWN_GRACE_MS = 3_000;

const USAGE = [
  "usage: vmbranch serve [--data-dir DIR] [--listen HOST:PORT] [--allow-host-path DIR]...",
  "                      [--tls-cert FILE --tls-key FILE | --insecure-listen]",
  "                      [--console-log-max-mb N] [--import-idle-timeout-s N] [--host-reserve-mb N]",
  "                      [--allow-privileged-ports] [--published-ports LOW-HIGH] [--huge-pages] [--store postgres://...]",
  "                      [--standby] [--host-name NAME]",
  "                      [--agent URL [--agent-token-file FILE] [--agent-ca FILE]]...",
  "",
  "Defaults: data dir $VMBRANCH_DATA_DIR or ~/.vmbranch; listen 127.0.0.1:7480.",
  "The bearer token is $VMBRANCH_TOKEN, else <data-dir>/token (generated on first start).",
  "--allow-host-path lets managed volumes (host_path) point under DIR (none by default).",
  "A non-loopback --listen needs --tls-cert and --tls-key (PEM), or --insecure-listen for plain HTTP.",
  `--console-log-max-mb: serial console kept per instance (default ${DEFAULT_LIMITS.consoleLogMaxBytes / 1048576}).`,
  `--import-idle-timeout-s: drop an import whose body stalls this long (default ${DEFAULT_LIMITS.importIdleTimeoutMs / 1000}).`,
  `--host-reserve-mb: host memory and RAM-directory space kept free by starts and snapshots (default ${DEFAULT_LIMITS.hostReserveMb}).`,
  "--allow-privileged-ports: let instances publish host ports below 1024.",
  "--published-ports: where this host picks a port published without a host_port (default: the 2768 ports just",
  "                   below the kernel's ephemeral range, 30000-32767 with Linux's default). A range named here is",
  "                   never left: when it is full, such an instance is refused (409). Agents take their own.",
  "--huge-pages: boot guests with their RAM in 2 MiB huge pages of each host's pool (vm.nr_hugepages): shorter",
  "              snapshot pauses and copies; a boot needs its memory free in the pool (a 507 otherwise).",
  "--store: keep the state in this PostgreSQL database ($VMBRANCH_STORE_URL) instead of <data-dir>/vmbranch.db.",
  "--host-name: this machine's name among the hosts instances are placed on (default: the name the data dir",
  "             recorded at its first start, else the machine's host name; a recorded name cannot change).",
  "--standby: wait while another serve holds the data dir (and the database's state), then take over its VMs and work.",
  "--agent: run VMs and disks through the `vmbranch agent` at URL instead of in this process; its token is",
  "         $VMBRANCH_AGENT_TOKEN or --agent-token-file (the agent's <data-dir>/agent/token), --agent-ca verifies https.",
  "         Repeated, each agent is a host of its own (a PostgreSQL --store is needed then); give --agent-token-file",
  "         and --agent-ca once for all agents or once per --agent, in the same order. The agent names its host.",
];

function positiveNumber(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${flag} must be a number >= ${min}, got '${value}'`);
  return n;
}

/** The PostgreSQL URL of `--store` (or `$VMBRANCH_STORE_URL`), checked; undefined for the SQLite file. */
function storeUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  try {
    checkPostgresUrl(value);
  } catch (e) {
    throw new UsageError(`--store: ${(e as Error).message}`);
  }
  return value;
}

/**
 * The agents of the `--agent`s with their tokens, checked. `--agent-token-file` and `--agent-ca`
 * are given once for every agent or once per agent, matched by order.
 */
function agentEndpoints(urls: string[], tokenFiles: string[], caFiles: string[], env: NodeJS.ProcessEnv): AgentEndpoint[] {
  if (urls.length === 0) {
    if (tokenFiles.length > 0 || caFiles.length > 0) throw new UsageError("--agent-token-file and --agent-ca go with --agent");
    return [];
  }
  const nth = (flag: string, values: string[], i: number) => {
    if (values.length > 1 && values.length !== urls.length) throw new UsageError(`give ${flag} once for all agents or once per --agent (${urls.length}), not ${values.length} times`);
    return values.length === 1 ? values[0] : values[i];
  };
  const seen = new Set<string>();
  return urls.map((url, i) => {
    const endpoint = agentEndpoint(url, nth("--agent-token-file", tokenFiles, i), nth("--agent-ca", caFiles, i), env);
    if (seen.has(endpoint.url)) throw new UsageError(`--agent ${endpoint.url} is given twice`);
    seen.add(endpoint.url);
    return endpoint;
  });
}

/** The agent at `url` with its token, checked. */
function agentEndpoint(url: string, tokenFile: string | undefined, caFile: string | undefined, env: NodeJS.ProcessEnv): AgentEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--agent must be an http(s) URL, got '${url}'`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError(`--agent must be an http(s) URL, got '${url}'`);
  if (parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname.replace(/^\[|\]$/g, "")))
    throw new UsageError(`--agent '${url}' is not on this machine: reach it over https, so its token does not cross the network in clear text`);
  let token = env.VMBRANCH_AGENT_TOKEN?.trim() ?? "";
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, "utf8").trim();
    } catch (e) {
      throw new UsageError(`--agent-token-file: ${(e as Error).message}`);
    }
  }
  if (!token) throw new UsageError("--agent needs the agent's token: $VMBRANCH_AGENT_TOKEN or --agent-token-file");
  return { url: parsed.origin, token, ...(caFile !== undefined ? { caFile } : {}) };
}

/** The `serve` subcommand. */
export const serveCommand: CliCommand = {
  name: "serve",
  summary: "run the REST service (instances, volumes, branching)",
  usage: USAGE,
  async run(args, ctx) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        options: {
          "data-dir": { type: "string" }, listen: { type: "string" }, "allow-host-path": { type: "string", multiple: true },
          "tls-cert": { type: "string" }, "tls-key": { type: "string" }, "insecure-listen": { type: "boolean" },
          "console-log-max-mb": { type: "string" }, "import-idle-timeout-s": { type: "string" }, "host-reserve-mb": { type: "string" },
          "allow-privileged-ports": { type: "boolean" }, "published-ports": { type: "string" }, "huge-pages": { type: "boolean" }, store: { type: "string" }, standby: { type: "boolean" },
          "host-name": { type: "string" }, agent: { type: "string", multiple: true }, "agent-token-file": { type: "string", multiple: true },
          "agent-ca": { type: "string", multiple: true },
        },
      }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { host, port } = parseListen((values.listen as string | undefined) ?? ctx.env.VMBRANCH_LISTEN ?? "127.0.0.1:7480");
    const allow = ((values["allow-host-path"] as string[] | undefined) ?? []).map((p) => {
      if (!p.startsWith("/")) throw new UsageError(`--allow-host-path must be absolute: '${p}'`);
      return p.replace(/\/+$/, "") || "/";
    });
    const plan = planListen(host, { tlsCert: values["tls-cert"] as string | undefined, tlsKey: values["tls-key"] as string | undefined, insecure: values["insecure-listen"] === true });
    const limits: Partial<ServeLimits> = {};
    const logMb = positiveNumber("console-log-max-mb", values["console-log-max-mb"] as string | undefined, 1);
    if (logMb !== undefined) limits.consoleLogMaxBytes = Math.round(logMb * 1048576);
    const idle = positiveNumber("import-idle-timeout-s", values["import-idle-timeout-s"] as string | undefined, 1);
    if (idle !== undefined) limits.importIdleTimeoutMs = Math.round(idle * 1000);
    const reserve = positiveNumber("host-reserve-mb", values["host-reserve-mb"] as string | undefined, 0);
    if (reserve !== undefined) limits.hostReserveMb = reserve;
    if (values["allow-privileged-ports"] === true) limits.allowPrivilegedPorts = true;
    if (values["huge-pages"] === true) limits.hugePages = true;
    const published = parsePortRange("published-ports", values["published-ports"] as string | undefined);
    if (published) limits.publishedPorts = published;
    const given = values["host-name"] as string | undefined;
    // Checked before anything starts; the default is the data dir's (server.ts, host-name.ts).
    const hostName = given === undefined ? undefined : checkHostName(given);
    const agents = agentEndpoints((values.agent as string[] | undefined) ?? [], (values["agent-token-file"] as string[] | undefined) ?? [], (values["agent-ca"] as string[] | undefined) ?? [], ctx.env);
    // An agent's host is named where it runs: one name for a host, wherever it is asked.
    if (agents.length > 0 && given !== undefined) throw new UsageError("--host-name does not go with --agent: each agent names its host (vmbranch agent --host-name)");
    if (agents.length > 0 && published) throw new UsageError("--published-ports does not go with --agent: each agent picks its host's ports (vmbranch agent --published-ports)");
    const store = storeUrl((values.store as string | undefined) ?? ctx.env.VMBRANCH_STORE_URL);
    // Hosts of their own share the state only through PostgreSQL: a SQLite file is one machine's.
    if (agents.length > 1 && store === undefined) throw new UsageError("several --agent hosts need a PostgreSQL control plane: give --store postgres://...");
    if (plan.warning) ctx.stderr(`vmbranch serve: WARNING: ${plan.warning}\n`);
    // Failpoints are read once, here: an unknown name stops serve rather than silently passing a test.
    armFailpoints(ctx.env.VMBRANCH_FAILPOINTS);
    const server = await startServer({
      dataDir: resolveDataDir(values["data-dir"] as string | undefined, ctx.env),
      storeUrl: store,
      standby: values.standby === true, hostName, agents,
      host, port, allowHostPaths: allow, env: ctx.env, version: VERSION, limits, ...(plan.tls ? { tls: plan.tls } : {}),
    });
    if (plan.warning) server.log.warn(plan.warning);
    ctx.stdout(`vmbranch serve listening on ${server.url}\n`);
    const superseded = await new Promise<string | null>((resolve) => {
      const stop = () => resolve(null);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      void server.superseded.then(resolve);
    });
    if (superseded) ctx.stderr(`vmbranch serve: stopping: ${superseded}\n`);
    // Exit promptly whatever is in flight: VMs keep running, and the journal lets the next start
    // finish or undo an operation cut short. A second signal, or the deadline, ends serve at once.
    const now = () => process.exit(0);
    process.once("SIGINT", now);
    process.once("SIGTERM", now);
    setTimeout(() => {
      ctx.stderr(`vmbranch serve: operations still in flight after ${SHUTDOWN_GRACE_MS / 1000}s; exiting (the next start recovers them)\n`);
      now();
    }, SHUTDOWN_GRACE_MS).unref();
    await server.close();
    ctx.stdout("vmbranch serve stopped; VMs keep running\n");
    // Lingering handles (idle keep-alive sockets, detached watchers) must not keep a stopped service alive.
    const code = superseded ? 1 : 0;
    setImmediate(() => process.exit(code));
    return code;
  },
};

declare const __VMBRANCH_VERSION__: string | undefined;
/** Version of this build (from package.json at bundle time). */
const VERSION = typeof __VMBRANCH_VERSION__ === "string" ? __VMBRANCH_VERSION__ : "dev";
