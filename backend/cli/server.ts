/**
 * Wires `vmbranch serve`: the data directory layout and its modes, the token, the store, the QEMU
 * driver, the image catalog, the accelerator probe, core (with start-up reconciliation) and the
 * HTTP app. Returns a handle that closes everything except the VMs, which outlive the service.
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants, readFileSync, rmdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import pino, { type Logger as PinoLogger } from "pino";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../api/build-app";
import { createContext, type ImageCatalog } from "../core/context";
import { OFFLINE_AFTER_MS } from "../core/hosts";
import { Core } from "../core/service";
import type { AgentEndpoint } from "../agent/agent-client";
import { ImageNotFoundError, listImages, openImage, resolveImageDir } from "../host/images";
import type { PortRange } from "../host/net/ports";
import { Ballast, BALLAST_BYTES } from "../host/storage/ballast";
import { redactUrl } from "../store/postgres/connection";
import { StoreLocked } from "../store/engine";
import { Store } from "../store/store";
import { DataDirBusy, lockDataDir } from "./data-dir-lock";
import { refuseEmptyState, refuseLostState, type StateDirs } from "./lost-state";
import { isLoopbackListen } from "./listen-policy";
import { connectAgents, localHosts } from "./serve-hosts";
import { privateDir, privateFile, readPrivateFile, resolveRamDir, writePrivateFile } from "./private-paths";

/** Options of `vmbranch serve`. */
export interface ServerOptions {
  dataDir: string;
  /** A PostgreSQL URL holding the state; the SQLite file `<dataDir>/vmbranch.db` when absent. */
  storeUrl?: string;
  /** Wait for the serve that holds the data dir (and the database's state) to end, then take over. */
  standby?: boolean;
  host: string;
  port: number;
  /** This machine's name as a host of the control plane (`--host-name`, checked by the caller); the data dir's recorded name when absent. Not with `agents`. */
  hostName?: string;
  allowHostPaths: string[];
  /** The agents that run the hosts' VMs and disks (`--agent`), each a host named by itself; none: this machine, in this process. */
  agents?: AgentEndpoint[];
  /** TLS key and certificate files (PEM); plain HTTP without them. */
  tls?: { keyFile: string; certFile: string };
  /** Limits and allowances (defaults in DEFAULT_LIMITS). */
  limits?: Partial<ServeLimits>;
  env: NodeJS.ProcessEnv;
  /** pino level; "silent" in tests. */
  logLevel?: string;
  version: string;
}

/** A running server. */
export interface RunningServer {
  app: FastifyInstance;
  core: Core;
  url: string;
  token: string;
  log: PinoLogger;
  /** Settles with why when serve must stop on its own: another serve began a newer term on its state. */
  superseded: Promise<string>;
  /** Stop serving and release the database; VMs keep running. */
  close(): Promise<void>;
}

/** The operator's limits and allowances. */
export interface ServeLimits {
  /** Bytes of serial console output kept per instance before the oldest half is rotated out. */
  consoleLogMaxBytes: number;
  /** An import whose body sends nothing for this long is dropped. */
  importIdleTimeoutMs: number;
  /** Host ports below 1024 may be published. */
  allowPrivilegedPorts: boolean;
  /** Host memory (and RAM directory space) that starts, snapshots and branches leave free, in MiB. */
  hostReserveMb: number;
  /** Cold-booted guests keep their RAM in 2 MiB huge pages of the hosts' reserved pools. */
  hugePages: boolean;
  /** Where this process's own host picks published ports; null: just below its ephemeral range. */
  publishedPorts: PortRange | null;
}

/** Defaults of ServeLimits. */
export const DEFAULT_LIMITS: ServeLimits = {
  consoleLogMaxBytes: 16 * 1024 * 1024,
  importIdleTimeoutMs: 30_000,
  allowPrivilegedPorts: false,
  hostReserveMb: 256,
  hugePages: false,
  publishedPorts: null,
};

/** Shortest token accepted from `$VMBRANCH_TOKEN`: a guessable token makes every other layer moot. */
export const MIN_TOKEN_LENGTH = 16;

/** The token: `$VMBRANCH_TOKEN`, else `<data-dir>/token` (0600, ours, not a link), generated on first start. */
export function resolveToken(dataDir: string, env: NodeJS.ProcessEnv): string {
  return resolveSecret(join(dataDir, "token"), env.VMBRANCH_TOKEN, "$VMBRANCH_TOKEN");
}

/** A bearer token: `given` (from `envName`) when set, else the private `file`, generated on first use. */
export function resolveSecret(file: string, given: string | undefined, envName: string): string {
  if (given !== undefined && given !== "") {
    const token = given.trim();
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) throw new Error(`${envName} must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
    return token;
  }
  const existing = readPrivateFile(file)?.trim();
  if (existing) return existing;
  const token = randomBytes(24).toString("base64url");
  writePrivateFile(file, token + "\n");
  return token;
}

/** Backing chains deeper than this are flattened: 8, or `$VMBRANCH_MAX_CHAIN_DEPTH` (tests flatten often with 1). */
function chainDepth(env: NodeJS.ProcessEnv): number {
  const n = Number(env.VMBRANCH_MAX_CHAIN_DEPTH ?? 8);
  if (!Number.isInteger(n) || n < 1) throw new Error(`$VMBRANCH_MAX_CHAIN_DEPTH must be a whole number >= 1, got '${env.VMBRANCH_MAX_CHAIN_DEPTH}'`);
  return n;
}

/** How long a host goes without a heartbeat before it is offline: 60 s, or `$VMBRANCH_HOST_OFFLINE_AFTER_S` (tests wait less). */
function hostOfflineAfterMs(env: NodeJS.ProcessEnv): number {
  const s = Number(env.VMBRANCH_HOST_OFFLINE_AFTER_S ?? OFFLINE_AFTER_MS / 1000);
  if (!Number.isFinite(s) || s < 1) throw new Error(`$VMBRANCH_HOST_OFFLINE_AFTER_S must be a number of seconds >= 1, got '${env.VMBRANCH_HOST_OFFLINE_AFTER_S}'`);
  return s * 1000;
}

/** Where RAM images go: tmpfs (/dev/shm) when writable, so restores map them from memory; else the data dir. */
function tmpfsRoot(): string | null {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return null;
  }
}

/** The state in the data dir's SQLite file, which only serve may read. */
function openSqliteStore(dbFile: string): Store {
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) privateFile(f);
  return Store.open(dbFile);
}

/**
 * The state in PostgreSQL at `url`, connected (and its schema brought up to date) now, so a
 * database that cannot be reached stops serve at once. An empty state beside a data dir that holds
 * disks is refused as a missing SQLite file is (./lost-state.ts).
 */
async function openPostgresStore(url: string, dirs: StateDirs, standby: Standby | null): Promise<Store> {
  // The bundle is the session's worker too (main.ts starts it in a worker thread).
  const store = Store.openPostgres(url, __filename);
  try {
    let empty: boolean | undefined;
    while (empty === undefined) {
      try {
        empty = store.isEmpty();
      } catch (err) {
        // The data dir's serve has ended but its database session may not have yet.
        if (!(err instanceof StoreLocked) || !standby) throw err;
        await standby.pause(`waiting for the database's serve session to end (${err.message})`);
      }
    }
    if (empty) refuseEmptyState(`the PostgreSQL database ${redactUrl(url)} holds no state`, dirs);
  } catch (err) {
    store.close();
    throw err;
  }
  return store;
}

/** How a standby waits: a pause between tries, saying once what it waits for. */
interface Standby {
  pause(why: string): Promise<void>;
}

/** How often a standby tries to take over. */
const STANDBY_POLL_MS = 100;

function standbyWaiter(log: PinoLogger): Standby {
  const said = new Set<string>();
  return {
    async pause(why) {
      if (!said.has(why)) log.info(`standby: ${why}`);
      said.add(why);
      await new Promise((r) => setTimeout(r, STANDBY_POLL_MS));
    },
  };
}

/** The data dir's lock; a standby waits until the serve holding it has ended. */
async function takeDataDir(dataDir: string, standby: Standby | null): Promise<() => void> {
  for (;;) {
    try {
      return lockDataDir(dataDir, "serve");
    } catch (err) {
      if (!(err instanceof DataDirBusy) || !standby) throw err;
      await standby.pause(`waiting for the serve holding ${dataDir} to end (${err.message})`);
    }
  }
}

/** Start the service. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { dataDir, env } = opts;
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  // Everything serve and its QEMU processes create is private unless made otherwise on purpose.
  process.umask(0o077);
  const log = pino({ level: opts.logLevel ?? env.VMBRANCH_LOG_LEVEL ?? "info", base: { service: "vmbranch" } });
  privateDir(dataDir);
  // One server per data dir (and no `store migrate` reading it meanwhile).
  const standby = opts.standby ? standbyWaiter(log) : null;
  const unlock = await takeDataDir(dataDir, standby);
  if (standby) log.info("standby: taking over");
  let ramDir: string | null = null;
  let closeHosts = async () => {};
  try {
    const fixed = { disksDir: join(dataDir, "disks"), runDir: join(dataDir, "run"), snapshotsDir: join(dataDir, "snapshots"), tmpDir: join(dataDir, "tmp") };
    const dbFile = join(dataDir, "vmbranch.db");
    if (!opts.storeUrl) refuseLostState(dbFile, fixed);
    const token = resolveToken(dataDir, env);
    for (const d of Object.values(fixed)) privateDir(d);
    const tls = opts.tls ? { key: readFileSync(opts.tls.keyFile), cert: readFileSync(opts.tls.certFile) } : undefined;
    ramDir = resolveRamDir(dataDir, tmpfsRoot(), (m) => log.warn(m));
    const dirs = { ...fixed, ramDir };
    const store = opts.storeUrl ? await openPostgresStore(opts.storeUrl, fixed, standby) : openSqliteStore(dbFile);
    // This serve's term: its epoch goes with every journal entry, and a newer term (a standby that
    // took over while this serve's database session was lost) ends this one.
    let superseded!: (why: string) => void;
    const supersededAt = new Promise<string>((resolve) => (superseded = resolve));
    const { term, previous } = store.beginTerm(`${hostname()} pid ${process.pid}`, new Date().toISOString(), (why) => {
      log.error(`this serve's term ${term.epoch} is over: ${why}; stopping (VMs keep running)`);
      superseded(why);
    });
    log.info(`term ${term.epoch} begins${previous ? ` (term ${previous.epoch} was ${previous.holder}'s, from ${previous.startedAt})` : ""}`);
    // Room the store keeps for itself on a filesystem the guests' disks can fill (host/storage/ballast.ts).
    const ballast = new Ballast(join(dataDir, "ballast"));
    const noBallast = ballast.ensure();
    if (noBallast) log.warn(`UNAVAILABLE: the data directory's ballast (${BALLAST_BYTES / 1048576} MiB kept for the store when the disk fills): ${noBallast}`);
    let ballastMissing = noBallast !== null;
    // Released for the store, the ballast's room is the store's alone: no disk file is made in it
    // (a clone's overlay would fit there). Before each new disk it is tried again, so room freed
    // by any means (a delete, the operator) ends the refusal.
    let reserveInUse = false;
    const restoreBallast = () => {
      if (ballast.ensure() !== null) return false;
      if (ballastMissing) log.info("the data directory's ballast is written again");
      ballastMissing = reserveInUse = false;
      return true;
    };
    const roomForDisks = () => {
      if (reserveInUse && !restoreBallast())
        throw Object.assign(new Error("the data directory's filesystem is full (its reserve for the store is in use)"), { code: "ENOSPC" });
    };
    store.whenFull(() => {
      const freed = ballast.release();
      if (freed) log.error("the data directory's filesystem is full: released the ballast so the store can record it (no disk is made until it is written again, once space is freed)");
      ballastMissing = true;
      reserveInUse ||= freed;
      return freed;
    });
    const imageDir = resolveImageDir(dataDir, env);
    const images: ImageCatalog = {
      async get(name) {
        try {
          const f = openImage(imageDir, name);
          return { name, kernel: f.kernel, initrd: f.initrd, cmdline: f.cmdline };
        } catch (err) {
          if (err instanceof ImageNotFoundError) return null;
          throw err;
        }
      },
      async list() {
        return listImages(imageDir);
      },
    };
    const hosts = opts.agents?.length
      ? await connectAgents(opts.agents, () => term.epoch, log, Object.values(dirs))
      : await localHosts(opts.hostName, { dataDir, imageDir, tmpDir: dirs.tmpDir, consoleLogMaxBytes: limits.consoleLogMaxBytes, publishedPorts: limits.publishedPorts, log, roomForDisks });
    closeHosts = () => Promise.all([...hosts.values()].map((h) => h.close())).then(() => undefined);
    const ctx = createContext({
      store,
      config: {
        dataDir, ...dirs, imageDir, allowedHostPaths: opts.allowHostPaths, maxChainDepth: chainDepth(env), hostOfflineAfterMs: hostOfflineAfterMs(env), stopTimeoutMs: 10_000, bootTimeoutMs: 120_000,
        ...limits, hostName: hosts.keys().next().value!,
      },
      hosts,
      images,
      log,
    });
    // A finished delete (an instance's or a volume's files are gone) is when room comes back: a
    // missing ballast is written again then rather than only at the next start, so the reserve
    // is there for the next time the disk fills. Tried once per delete; it fails quietly while
    // the filesystem is still too full (ensure leaves no partial file).
    ctx.events.onAny((_kind, _uuid, state) => {
      if (state === "deleted" && ballastMissing) restoreBallast();
    });
    const core = new Core(ctx);
    await core.start();
    const loopbackOnly = isLoopbackListen(opts.host);
    // The lineage page is built beside the bundle (scripts/build.mjs), as the guest files are.
    const app = buildApp({ core, token, loopbackOnly, tls, version: opts.version, uiDir: join(__dirname, "ui"), logger: log.child({ component: "http" }) });
    await app.listen({ host: opts.host, port: opts.port });
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : opts.port;
    const url = `${tls ? "https" : "http"}://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`;
    log.info({ url, dataDir }, "vmbranch serve is listening");
    return {
      app, core, url, token, log, superseded: supersededAt,
      async close() {
        await app.close();
        core.close();
        store.close();
        await closeHosts();
        // An empty RAM directory in tmpfs is tidied away; one still holding snapshots stays.
        try {
          rmdirSync(dirs.ramDir);
        } catch {
          /* not empty, or already gone */
        }
        unlock();
      },
    };
  } catch (err) {
    await closeHosts().catch(() => undefined);
    // A RAM directory this failed start made (or one left empty) is not kept.
    if (ramDir) {
      try {
        rmdirSync(ramDir);
      } catch {
        /* holds snapshots, or gone */
      }
    }
    unlock();
    throw err;
  }
}
