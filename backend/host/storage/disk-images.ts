/**
 * qcow2 disk files on the host: formatted volumes (mke2fs on a sparse raw file, then converted),
 * copy-on-write overlays over frozen backing files (O(1) whatever the size), growth, and
 * flattening. Pure file operations: which file is frozen or shared is the caller's business.
 */
import { chmod, chown, mkdtemp, open, rename, rm, stat, truncate, writeFile, readFile, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { failpoint } from "../failpoints";
import { HostCommandError, run } from "../util/exec";

/** mke2fs's words when the files it is given need more blocks or inodes than the filesystem has. */
const MKE2FS_FULL = /Could not allocate (block|inode)|No space left on device/;
import type { FilesystemDriver } from "./filesystems";

const MIB = 1024 * 1024;

/** Create `path` as a qcow2 of `sizeMb` holding a fresh filesystem; `fromDir` fills it (mke2fs -d). */
export async function createFormattedDisk(path: string, sizeMb: number, fs: FilesystemDriver, fromDir?: string): Promise<void> {
  const tmp = await mkdtemp(join(dirname(path), SCRATCH_PREFIXES.mkfs));
  activeScratch.add(tmp);
  const raw = join(tmp, "fs.raw");
  try {
    await writeFile(raw, "");
    await truncate(raw, sizeMb * MIB);
    // 4 KiB blocks and no reserved blocks: volumes are data disks, small ones too.
    const args = ["-q", "-F", "-t", fs.mkfsType, "-b", "4096", "-m", "0", "-E", "root_owner=0:0"];
    if (fromDir) args.push("-d", fromDir);
    await run("mke2fs", [...args, raw]).catch((err: unknown) => {
      throw fromDir && err instanceof HostCommandError && MKE2FS_FULL.test(err.output) ? err.because("no-space") : err;
    });
    await run("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, path]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
    activeScratch.delete(tmp);
  }
}

/** Create `path` as a qcow2 overlay whose backing file is `backing` (absolute path). */
export async function createOverlay(path: string, backing: string): Promise<void> {
  await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, path]);
}

/** Virtual size and backing file of a qcow2. */
export async function diskInfo(path: string): Promise<{ virtualSize: number; actualSize: number; backing: string | null }> {
  // -U: the file may be open in a running QEMU; reading its header is safe.
  const out = JSON.parse(await run("qemu-img", ["info", "-U", "--output=json", path])) as {
    "virtual-size": number;
    "actual-size": number;
    "backing-filename"?: string;
  };
  return { virtualSize: out["virtual-size"], actualSize: out["actual-size"], backing: out["backing-filename"] ?? null };
}

/** An unprivileged identity to run a tool as. */
export interface ToolUser {
  uid: number;
  gid: number;
}

/**
 * Grow the disk to `sizeMb` and its ext filesystem with it. Only valid while no VM has the file
 * open. The filesystem was written by a guest: resize2fs, which parses it, runs as `as` when given.
 */
export async function growDisk(path: string, sizeMb: number, as: ToolUser | null = null): Promise<void> {
  await run("qemu-img", ["resize", "-q", path, `${sizeMb}M`]);
  await withRawView(
    path,
    async (raw) => {
      await run("resize2fs", ["-f", raw], as ? { uid: as.uid, gid: as.gid } : {});
    },
    as,
  );
}

/**
 * Directory prefixes of scratch space: raw views in the shared temp dir (a tool user's) or beside
 * the disk, filesystems being made, and flatten copies. A dead serve's are swept (leftovers.ts).
 */
export const SCRATCH_PREFIXES = { shared: "vmb-view-", view: ".view-", mkfs: ".mkfs-", flatten: ".flatten-" } as const;
/** Scratch prefixes in the disks' own directory. */
export const SCRATCH_BESIDE: readonly string[] = [SCRATCH_PREFIXES.view, SCRATCH_PREFIXES.mkfs, SCRATCH_PREFIXES.flatten];
/** Scratch directories this process uses now (never leftovers). */
export const activeScratch = new Set<string>();

/**
 * Expose the qcow2 as a raw file through qemu-storage-daemon's FUSE export for the duration of
 * `fn`, so e2fsprogs can work on it in place without flattening its backing chain. With `owner`,
 * the export and the directory holding it (0700, in the temp dir, where that user can reach it)
 * belong to that user alone.
 */
export async function withRawView<T>(path: string, fn: (raw: string) => Promise<T>, owner: ToolUser | null = null): Promise<T> {
  const tmp = await mkdtemp(owner ? join(tmpdir(), SCRATCH_PREFIXES.shared) : join(dirname(path), SCRATCH_PREFIXES.view));
  activeScratch.add(tmp);
  if (owner) await chown(tmp, owner.uid, owner.gid);
  const raw = join(tmp, "raw");
  const pidfile = join(tmp, "pid");
  await writeFile(raw, "");
  try {
    await run("qemu-storage-daemon", [
      "--blockdev", `driver=file,filename=${path},node-name=file0`,
      "--blockdev", "driver=qcow2,file=file0,node-name=disk0",
      "--export", `type=fuse,id=export0,node-name=disk0,mountpoint=${raw},writable=on${owner ? ",allow-other=on" : ""}`,
      "--pidfile", pidfile,
      "--daemonize",
    ]);
    try {
      if (owner) await chown(raw, owner.uid, owner.gid);
      return await fn(raw);
    } finally {
      const pid = Number((await readFile(pidfile, "utf8")).trim());
      await stopProcess(pid);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    activeScratch.delete(tmp);
  }
}

async function stopProcess(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(pid, "SIGKILL");
}

/**
 * Copy the whole backing chain into the file so it stands alone. Only valid while no VM has it open.
 * The standalone copy is made beside the file and renamed over it once it is on disk, so a flatten
 * killed at any instant leaves the old file, whole and on its chain, or the new one, whole. In place
 * (`qemu-img rebase -b ""`) the header drops its backing file before the copied clusters are
 * mapped: killed in between, the file claims to stand alone while holding little of its data, and
 * whoever records it as flattened frees the layers that hold the rest.
 */
export async function flattenDisk(path: string): Promise<void> {
  const tmp = await mkdtemp(join(dirname(path), SCRATCH_PREFIXES.flatten));
  activeScratch.add(tmp);
  try {
    const copy = join(tmp, "flat.qcow2");
    await run("qemu-img", ["convert", "-q", "-f", "qcow2", "-O", "qcow2", path, copy], { timeoutMs: 30 * 60_000 });
    const was = await stat(path);
    await chown(copy, was.uid, was.gid);
    await chmod(copy, was.mode & 0o7777);
    await fsync(copy);
    await failpoint("flatten.before-rename");
    await rename(copy, path);
    await fsync(dirname(path));
  } finally {
    await rm(tmp, { recursive: true, force: true });
    activeScratch.delete(tmp);
  }
}

/** Flush a file's (or a directory's entries') data to disk. */
async function fsync(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Remove a disk file; a missing file is fine. */
export async function removeDiskFile(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
