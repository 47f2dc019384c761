/**
 * The StorageDriver of one host: qcow2 files made and changed with qemu-img, e2fsprogs and
 * qemu-storage-daemon (disk-images.ts), the filesystem registry, managed-directory checks, tar
 * imports and doctor's inspections, as the interface core sees them; and the files another host
 * sends, written under a part name until complete, with the sweep of part files a dead writer left.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { access, mkdtemp, open, readdir, rename, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { ClaimedDir, DataFile, DiskFileInfo, FilesystemKind, ImportLimits, SentFile, StorageDriver, ViewLeftover } from "../storage-driver";
import { createFormattedDisk, createOverlay, diskInfo, flattenDisk, growDisk, removeDiskFile, type ToolUser } from "./disk-images";
import { directoryUsage } from "./directory-usage";
import { DEFAULT_FILESYSTEM, filesystemDriver, registeredFilesystems } from "./filesystems";
import { hostPathProblem, underAllowedRoot } from "./host-paths";
import { openPaths, viewLeftovers } from "./leftovers";
import { extractTar } from "./tar-import";

/** The name of a file `writeFile` has not finished: `<path>.part-<pid>-<random letters and digits>`. */
export const PART_FILE_NAME = /\.part-\d+-[0-9a-z]+$/;

/** Where `writeFile` writes `path` until it is complete (a name `PART_FILE_NAME` matches). */
function partFilePath(path: string): string {
  return `${path}.part-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/**
 * Remove the part files directly inside `dirs`, left by a `writeFile` whose process died; the
 * caller must know no writer of them lives (an agent holding its data dir's lock). A directory
 * that does not exist holds none; `warn` hears of one that cannot be read or a file that stays.
 * Resolves with how many were removed.
 */
export async function removePartFiles(dirs: readonly string[], warn: (message: string) => void): Promise<number> {
  let removed = 0;
  for (const dir of dirs) {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") warn(`cannot look for partial files in ${dir}: ${(err as Error).message}`);
      continue;
    }
    for (const e of entries.filter((x) => x.isFile() && PART_FILE_NAME.test(x.name))) {
      try {
        await rm(join(dir, e.name));
        removed++;
      } catch (err) {
        warn(`cannot remove the partial file ${join(dir, e.name)}: ${(err as Error).message}`);
      }
    }
  }
  return removed;
}

/**
 * Storage on local files; `toolUser` runs the tools that parse what a guest wrote (null: the
 * service's own user). `roomForDisks` is asked before a new disk file is made (a formatted disk or
 * an overlay) and throws (ENOSPC) when the data dir has no room to give: its filesystem's reserve
 * for the store is in use.
 */
export class LocalStorage implements StorageDriver {
  readonly defaultFilesystem = DEFAULT_FILESYSTEM;

  constructor(
    private readonly toolUser: ToolUser | null,
    private readonly roomForDisks: () => void = () => undefined,
  ) {}

  filesystem(name: string): FilesystemKind | null {
    return filesystemDriver(name);
  }

  filesystems(): string[] {
    return registeredFilesystems();
  }

  async createFormatted(path: string, sizeMb: number, fs: FilesystemKind, fromDir?: string): Promise<void> {
    this.roomForDisks();
    const known = filesystemDriver(fs.name);
    if (!known) throw new Error(`unknown filesystem '${fs.name}'`);
    return createFormattedDisk(path, sizeMb, known, fromDir);
  }

  async createOverlay(path: string, backing: string): Promise<void> {
    this.roomForDisks();
    return createOverlay(path, backing);
  }

  grow(path: string, sizeMb: number): Promise<void> {
    return growDisk(path, sizeMb, this.toolUser);
  }

  flatten(path: string): Promise<void> {
    return flattenDisk(path);
  }

  remove(path: string): Promise<void> {
    return removeDiskFile(path);
  }

  exists(path: string): Promise<boolean> {
    return access(path).then(() => true, () => false);
  }

  async openRead(path: string): Promise<SentFile> {
    // Opened before it is handed out: a missing file is this call's error, not a stream's. The
    // size is the open file's (sent files never change: frozen layers, complete snapshot files).
    const handle = await open(path, "r");
    try {
      return { bytes: (await handle.stat()).size, stream: handle.createReadStream() };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async writeFile(path: string, input: Readable, bytes: number): Promise<number> {
    const aside = partFilePath(path);
    try {
      await pipeline(input, createWriteStream(aside, { mode: 0o600, flush: true }));
      // A sender that stopped short leaves no file that looks whole.
      const written = (await stat(aside)).size;
      if (written !== bytes) throw new Error(`received ${written} of the ${bytes} bytes of ${path}: the sender stopped short`);
      await rename(aside, path);
    } catch (err) {
      await rm(aside, { force: true });
      throw err;
    }
    return bytes;
  }

  info(path: string): Promise<DiskFileInfo> {
    return diskInfo(path);
  }

  makeImportScratch(parent: string, prefix: string): Promise<string> {
    return mkdtemp(join(parent, prefix));
  }

  removeImportScratch(dir: string): Promise<void> {
    return rm(dir, { recursive: true, force: true });
  }

  async importScratchNames(parent: string, prefix: string): Promise<string[]> {
    return (await readdir(parent).catch(() => [] as string[])).filter((e) => e.startsWith(prefix));
  }

  extractTar(input: Readable, dir: string, limits: ImportLimits): Promise<void> {
    return extractTar(input, dir, limits);
  }

  hostPathProblem(path: string, allowedRoots: readonly string[], claimed: readonly ClaimedDir[]): Promise<string | null> {
    return hostPathProblem(path, allowedRoots, claimed);
  }

  underAllowedRoot(path: string, roots: readonly string[]): boolean {
    return underAllowedRoot(path, roots);
  }

  usage(dir: string): Promise<{ files: number; bytes: number }> {
    return directoryUsage(dir);
  }

  async listDataFiles(dir: string, suffix: string): Promise<DataFile[]> {
    const paths = (await readdir(dir).catch(() => [] as string[])).filter((e) => e.endsWith(suffix)).map((e) => join(dir, e));
    return Promise.all(paths.map(async (path) => ({ path, links: await stat(path).then((s) => s.nlink, () => 0) })));
  }

  openPaths(): Promise<Set<string>> {
    return openPaths();
  }

  viewLeftovers(disksDir: string): Promise<ViewLeftover[]> {
    return viewLeftovers(disksDir);
  }
}
