/**
 * What core needs to work, handed in once by whoever builds the service (`serve`, tests):
 * the store, directories, the drivers of each host it runs VMs on, the image catalog and a logger.
 */
import type { Image } from "vmbranch/sdk";
import type { StorageDriver } from "../host/storage-driver";
import type { BootImage, VmDriver } from "../host/vm-driver";
import type { Store } from "../store/store";
import { ApiError } from "./errors";
import { StateEvents } from "./events";
import { Locks } from "./locks";

/** Where things live and the operator's choices. */
export interface CoreConfig {
  dataDir: string;
  /** qcow2 files of volumes and frozen layers. */
  disksDir: string;
  /** One directory per instance for QEMU's runtime files. */
  runDir: string;
  /** Device state of memory snapshots. */
  snapshotsDir: string;
  /** RAM files of memory snapshots; tmpfs where available, so branches map them from memory. */
  ramDir: string;
  /** Scratch space (imports). */
  tmpDir: string;
  /** The image store (kernels and initrds). */
  imageDir: string;
  /** Roots under which managed volumes may point (`--allow-host-path`). */
  allowedHostPaths: string[];
  /** Backing chains deeper than this are flattened in the background. */
  maxChainDepth: number;
  /** Grace period of a graceful stop before the VM is forced off. */
  stopTimeoutMs: number;
  /** How long a cold boot may take before the instance is marked `error`. */
  bootTimeoutMs: number;
  /** Serial console bytes kept per instance; older output is rotated out. */
  consoleLogMaxBytes: number;
  /** An import body that sends nothing for this long is dropped. */
  importIdleTimeoutMs: number;
  /** Host ports below 1024 may be published. */
  allowPrivilegedPorts: boolean;
  /** MiB of host memory and RAM-directory space that starts, snapshots and branches leave free. */
  hostReserveMb: number;
  /** Cold boots keep guest RAM in 2 MiB huge pages of their host's pool (`--huge-pages`). */
  hugePages: boolean;
  /** A host whose heartbeats stopped (or could not be read) for this long is offline (60 s; `$VMBRANCH_HOST_OFFLINE_AFTER_S`). */
  hostOfflineAfterMs: number;
  /**
   * This serve's home host: its own machine (`--host-name`), or its first agent's host. Rows older
   * than hosts belong to it, and it is the default where nothing places work elsewhere.
   */
  hostName: string;
}

/** One host's drivers: the VMs it runs and the files it holds, in this process or through its agent. */
export interface HostDrivers {
  vm: VmDriver;
  /** Disk files, filesystems, managed directories and imports on this host. */
  storage: StorageDriver;
  /** The accelerator new VMs use on this host (probed once). */
  accelerator: () => Promise<"kvm" | "tcg">;
  /** Why guests cannot be given outbound network access on this host, or null when they can. */
  outboundNetworkUnavailable: string | null;
}

/** Images available to instances. */
export interface ImageCatalog {
  /** The bootable files of image `name`, or null when there is no such image. */
  get(name: string): Promise<BootImage | null>;
  /** Every image, as the API lists them. */
  list(): Promise<Image[]>;
}

/** Structured logging (pino-compatible subset). */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

/** Everything core services share. */
export interface CoreContext {
  store: Store;
  config: CoreConfig;
  /** The hosts this control plane runs VMs on, by name (the home host `config.hostName` among them); `on` picks one. */
  hosts: ReadonlyMap<string, HostDrivers>;
  images: ImageCatalog;
  log: Logger;
  locks: Locks;
  events: StateEvents;
}

/** Assemble a context, creating the shared lock table and event bus. */
export function createContext(parts: Omit<CoreContext, "locks" | "events">): CoreContext {
  if (!parts.hosts.has(parts.config.hostName)) throw new Error(`the home host ${parts.config.hostName} has no drivers`);
  return { ...parts, locks: new Locks(), events: new StateEvents() };
}

/**
 * The drivers of host `name`, where a record's VM runs and its files are (a row that names no host
 * is older than hosts: the home host's). A host this control plane drives no agent for is a 409:
 * nothing here can reach what is on it.
 */
export function on(ctx: CoreContext, name: string | null | undefined): HostDrivers {
  const drivers = ctx.hosts.get(name ?? ctx.config.hostName);
  if (!drivers) throw new ApiError("HOST_OFFLINE", noAgentFor(name!));
  return drivers;
}

/** Why nothing can act on host `name`: this control plane runs no agent of it. */
export function noAgentFor(name: string): string {
  return `Host '${name}' has no agent connected to this control plane: nothing can be placed on it or act on what is there until one is (serve --agent)`;
}

/** The home host's drivers, for what every host does alike (the filesystem registry, path rules) and the service's own figures. */
export function home(ctx: CoreContext): HostDrivers {
  return on(ctx, ctx.config.hostName);
}
