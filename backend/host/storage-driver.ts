/**
 * What the host offers core for storage, independent of how (qcow2 files, e2fsprogs and
 * qemu-storage-daemon today), beside `VmDriver` for virtual machines: disk files of volumes and
 * their copy-on-write layers, the filesystems a volume can have, managed (host directory) volumes,
 * imports, and what doctor inspects. Core decides which file is frozen or shared; a driver does the
 * file work on this host. Interfaces and types only.
 */
import type { Readable } from "node:stream";

/** How to make and mount one filesystem. */
export interface FilesystemKind {
  /** Name users pass in `filesystem`. */
  name: string;
  /** The fstype the guest mounts. */
  guestFstype: string;
}

/** What the header of a disk file says. */
export interface DiskFileInfo {
  virtualSize: number;
  actualSize: number;
  /** Its backing file (the layer below), or null for a standalone file. */
  backing: string | null;
}

/** A directory another managed volume or vmbranch itself uses. */
export interface ClaimedDir {
  what: string;
  path: string;
}

/** Limits of one import. */
export interface ImportLimits {
  /** Total bytes of file contents. */
  maxBytes: number;
  /** Entries of any kind (files, directories, links). */
  maxEntries: number;
  /** Give up when no data arrives for this long. */
  idleTimeoutMs: number;
}

/** Why an import was refused: the sender stalled, the archive exceeds a limit, or it is not a tar archive. */
export type ImportRefusal = "stalled" | "too-large" | "invalid";

/** An import error says why it was refused in `importRefusal` (its message says it in words). */
export interface ImportError {
  readonly importRefusal: ImportRefusal;
  readonly message: string;
}

/** A file doctor checks against the store. */
export interface DataFile {
  path: string;
  /** Its hard links now; 0 when it went away after it was listed. */
  links: number;
}

/** A raw view of a disk left by a dead serve (doctor). */
export interface ViewLeftover {
  dir: string;
  mounted: boolean;
  daemonPid: number | null;
  /** End its daemon, unmount and remove the directory. */
  remove(): Promise<void>;
}

/** A file being read to send to another host: its bytes and their count. */
export interface SentFile {
  stream: Readable;
  bytes: number;
}

/** Disk files, filesystems, managed directories and imports on this host. */
export interface StorageDriver {
  /** The filesystem new block volumes get unless told otherwise. */
  readonly defaultFilesystem: string;
  /** The filesystem registered as `name`, or null. */
  filesystem(name: string): FilesystemKind | null;
  /** Every registered filesystem's name. */
  filesystems(): string[];
  /** Make `path` a disk of `sizeMb` holding a fresh filesystem, filled from `fromDir` when given (a host failure with cause `no-space` when it does not fit). */
  createFormatted(path: string, sizeMb: number, fs: FilesystemKind, fromDir?: string): Promise<void>;
  /** Make `path` a copy-on-write overlay over the frozen file `backing`. */
  createOverlay(path: string, backing: string): Promise<void>;
  /** Grow the disk at `path` and its filesystem to `sizeMb` (no VM may have it open). */
  grow(path: string, sizeMb: number): Promise<void>;
  /** Copy the whole backing chain into `path` so it stands alone (no VM may have it open). */
  flatten(path: string): Promise<void>;
  /** Remove a disk file or a snapshot's file (RAM image, device state); a missing one is fine. */
  remove(path: string): Promise<void>;
  /** True when a disk or snapshot file is at `path`. */
  exists(path: string): Promise<boolean>;
  /** The bytes of the file at `path` (a frozen layer, a RAM image, device state) and how many there are, to send to another host. */
  openRead(path: string): Promise<SentFile>;
  /**
   * Write the `bytes` bytes of `input` to `path` (private, whole or not at all: made aside, and
   * renamed only once exactly `bytes` arrived); resolves with the bytes written.
   */
  writeFile(path: string, input: Readable, bytes: number): Promise<number>;
  /** The header of the disk file at `path` (it may be open in a running VM). */
  info(path: string): Promise<DiskFileInfo>;
  /** A new, empty scratch directory for an import under `parent`, named `prefix` and a random suffix. */
  makeImportScratch(parent: string, prefix: string): Promise<string>;
  /** Remove an import's scratch directory with what is in it; a missing one is fine. */
  removeImportScratch(dir: string): Promise<void>;
  /** The names of the entries under `parent` that start with `prefix` (import scratch directories); none when `parent` is missing. */
  importScratchNames(parent: string, prefix: string): Promise<string[]>;
  /** Unpack a tar stream into `dir` within `limits`; refusals are ImportErrors. */
  extractTar(input: Readable, dir: string, limits: ImportLimits): Promise<void>;
  /** Why `path` cannot be a managed volume's directory (not under an allowed root, overlapping a claimed one, a symlink, …), or null. */
  hostPathProblem(path: string, allowedRoots: readonly string[], claimed: readonly ClaimedDir[]): Promise<string | null>;
  /** True when `path` is under one of `roots`. */
  underAllowedRoot(path: string, roots: readonly string[]): boolean;
  /** Files and bytes under `dir`. */
  usage(dir: string): Promise<{ files: number; bytes: number }>;
  /** The files in `dir` whose names end in `suffix`, with their link counts (doctor); none when `dir` is missing. */
  listDataFiles(dir: string, suffix: string): Promise<DataFile[]>;
  /** Every path some process on this host has open now (doctor deletes none of them). */
  openPaths(): Promise<Set<string>>;
  /** Scratch directories of disk operations (raw views, new filesystems, flatten copies) left by a serve that died. */
  viewLeftovers(disksDir: string): Promise<ViewLeftover[]>;
}
