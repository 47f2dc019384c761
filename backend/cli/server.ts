/**
 * Wires `vmbranch serve`: the data directory layout, the token, the store, the QEMU driver, the
 * image catalog, the accelerator probe, core (with start-up reconciliation) and the HTTP app.
 * Returns a handle that closes everything except the VMs, which outlive the service.
 */
import { createHash, randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger as PinoLogger } from "pino";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../api/build-app";
import { createContext, type ImageCatalog } from "../core/context";
import { Core } from "../core/service";
import { BASE_IMAGE_NAME, ImageNotFoundError, listImages, openImage, resolveImageDir } from "../host/images";
import { detectAccelerator } from "../host/qemu/accel-probe";
import { QemuDriver } from "../host/vm/qemu-driver";
import { Store } from "../store/store";

/** Options of `vmbranch serve`. */
export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  allowHostPaths: string[];
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
  /** Stop serving and release the database; VMs keep running. */
  close(): Promise<void>;
}

/** The token: `$VMBRANCH_TOKEN`, else `<data-dir>/token`, generated (mode 0600) on first start. */
export function resolveToken(dataDir: string, env: NodeJS.ProcessEnv): string {
  if (env.VMBRANCH_TOKEN) return env.VMBRANCH_TOKEN;
  const file = join(dataDir, "token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = randomBytes(24).toString("base64url");
  writeFileSync(file, token + "\n", { mode: 0o600, flag: "wx" });
  return token;
}

/** Where RAM images go: tmpfs (/dev/shm) when writable, so restores map them from memory; else the data dir. */
function ramDirFor(dataDir: string): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return join("/dev/shm", `vmbranch-${createHash("sha256").update(dataDir).digest("hex").slice(0, 12)}`);
  } catch {
    return join(dataDir, "ram");
  }
}

/** True when `pid` is a live (not zombie) vmbranch process: a SIGKILLed server's pid file must not lock out its successor. */
function isLiveServe(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("serve");
  } catch {
    return false;
  }
}

/** One server per data dir: a pid lock file refuses a second one. */
function takeLock(dataDir: string): () => void {
  const file = join(dataDir, "serve.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(readFileSync(file, "utf8").trim());
      if (isLiveServe(pid)) throw new Error(`another vmbranch serve (pid ${pid}) uses ${dataDir}`);
      unlinkSync(file);
    }
  }
  throw new Error(`cannot lock ${dataDir}`);
}

/** Start the service. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { dataDir, env } = opts;
  const dirs = { disksDir: join(dataDir, "disks"), runDir: join(dataDir, "run"), snapshotsDir: join(dataDir, "snapshots"), tmpDir: join(dataDir, "tmp"), ramDir: ramDirFor(dataDir) };
  for (const d of [dataDir, ...Object.values(dirs)]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const unlock = takeLock(dataDir);
  const log = pino({ level: opts.logLevel ?? env.VMBRANCH_LOG_LEVEL ?? "info", base: { service: "vmbranch" } });
  try {
    const token = resolveToken(dataDir, env);
    const store = Store.open(join(dataDir, "vmbranch.db"));
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
    let accel: Promise<"kvm" | "tcg"> | null = null;
    // Probed on the first launch, not at start-up: it may boot a VM and needs the image.
    const accelerator = () =>
      (accel ??= (async () => {
        const base = openImage(imageDir, BASE_IMAGE_NAME);
        const verdict = await detectAccelerator({
          image: { kernel: base.kernel, initrd: base.initrd, cmdline: base.cmdline, digest: base.manifest.digest },
          // Next to the image: the verdict is keyed by its digest and shared by every data dir using it.
          cacheFile: join(imageDir, ".accelerator.json"),
          log: (m) => log.info(m),
          workDir: dirs.tmpDir,
        });
        return verdict.accel;
      })().catch((err) => {
        accel = null;
        throw err;
      }));
    const ctx = createContext({
      store,
      config: { dataDir, ...dirs, allowedHostPaths: opts.allowHostPaths, maxChainDepth: 8, stopTimeoutMs: 10_000, bootTimeoutMs: 120_000 },
      driver: new QemuDriver(),
      images,
      accelerator,
      log,
    });
    const core = new Core(ctx);
    await core.start();
    const app = buildApp({ core, token, version: opts.version, logger: log.child({ component: "http" }) });
    await app.listen({ host: opts.host, port: opts.port });
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : opts.port;
    const url = `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`;
    log.info({ url, dataDir }, "vmbranch serve is listening");
    return {
      app, core, url, token, log,
      async close() {
        await app.close();
        core.close();
        store.close();
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
    unlock();
    throw err;
  }
}
