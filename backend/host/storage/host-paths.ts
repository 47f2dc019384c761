/**
 * Checks for managed volumes (host directories shared into guests). At creation: the path must
 * be an existing directory whose real path is the given one (no symlink anywhere), under a root
 * the operator allowed with `--allow-host-path` (none by default), and it may neither nest in nor
 * contain another managed volume's directory or one of vmbranch's own (data, images, RAM). At
 * every launch the directory is opened again without following symlinks and handed to QEMU as an
 * open descriptor, so what QEMU shares is exactly what was checked, whatever changes afterwards.
 */
import { spawn } from "node:child_process";
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import { VM_GROUP } from "../confinement/vm-identity";
import type { HostFailure, HostFailureDetail } from "../host-failure";
import type { ClaimedDir } from "../storage-driver";

export type { ClaimedDir };

/** True when `a` and `b` are the same directory or one contains the other (paths normalised, absolute). */
export function pathsOverlap(a: string, b: string): boolean {
  const inside = (x: string, root: string) => x === root || x.startsWith(root.endsWith(sep) ? root : root + sep);
  return inside(a, b) || inside(b, a);
}

/** True when `path` is one of `roots` or below one. */
export function underAllowedRoot(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep));
}

/** Why a host path was refused at creation, or null when it is fine. Syntax (absolute, normalised) is checked earlier by the schema. */
export async function hostPathProblem(path: string, allowedRoots: readonly string[], claimed: readonly ClaimedDir[] = []): Promise<string | null> {
  if (allowedRoots.length === 0)
    return `host_path '${path}' is not allowed: this server allows no host paths (start it with --allow-host-path DIR)`;
  if (!underAllowedRoot(path, allowedRoots)) return `host_path '${path}' is outside the allowed roots: ${allowedRoots.join(", ")}`;
  let st;
  try {
    st = await stat(path);
  } catch {
    return `host_path '${path}' does not exist`;
  }
  if (!st.isDirectory()) return `host_path '${path}' is not a directory`;
  const real = await realpath(path);
  if (real !== path) return `host_path '${path}' resolves to '${real}' through a symbolic link; give the real path`;
  for (const c of claimed) {
    const theirs = await realpath(c.path).catch(() => c.path);
    if (pathsOverlap(path, c.path) || pathsOverlap(path, theirs))
      return `host_path '${path}' overlaps ${c.what} ('${c.path}'): managed directories may not nest in or contain each other or vmbranch's own directories`;
  }
  return null;
}

/** The directory of a managed volume changed since it was checked (a symlink, gone, not a directory). */
export class SharePathError extends Error implements HostFailure {
  override name = "SharePathError";

  get hostFailure(): HostFailureDetail {
    return { command: "share", summary: `a managed volume's directory ${this.message}`, exitCode: null, output: this.message, cause: "share-unsafe" };
  }
}

/**
 * Opens directory `path` for sharing: no component may be a symbolic link (the last one is opened
 * with O_NOFOLLOW, and the kernel's own name for what was opened must be `path` itself). Returns
 * the descriptor (the caller closes it). Throws SharePathError.
 */
export function openShareDir(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // O_DIRECTORY before O_NOFOLLOW: a symlink in the last place reads as ENOTDIR.
    const isLink = (() => {
      try {
        return lstatSync(path).isSymbolicLink();
      } catch {
        return false;
      }
    })();
    if (code === "ELOOP" || (code === "ENOTDIR" && isLink)) throw new SharePathError(`'${path}' is now a symbolic link`);
    if (code === "ENOTDIR") throw new SharePathError(`'${path}' (or a directory on its way) is no longer a directory`);
    if (code === "ENOENT") throw new SharePathError(`'${path}' no longer exists`);
    throw new SharePathError(`'${path}' cannot be opened: ${(err as Error).message}`);
  }
  try {
    const opened = readlinkSync(`/proc/self/fd/${fd}`);
    if (opened !== path) throw new SharePathError(`'${path}' now leads to '${opened}' through a symbolic link`);
    if (!fstatSync(fd).isDirectory()) throw new SharePathError(`'${path}' is no longer a directory`);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Throws SharePathError unless a process with `uid`/`gid` (and no other group) can list and
 * enter the directory open as `fd` (from openShareDir; `path` names it in the message) — and
 * write it when `writable`. Asked of the kernel itself: test(1) runs as that user on the open
 * directory, so ACLs and every permission rule count, and the directories above it do not (QEMU
 * gets the descriptor too).
 */
export async function checkShareAccess(fd: number, path: string, uid: number, gid: number, writable: boolean): Promise<void> {
  const dir = "/proc/self/fd/3";
  const args = ["-d", dir, "-a", "-r", dir, "-a", "-x", dir, ...(writable ? ["-a", "-w", dir] : [])];
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn("test", args, { uid, gid, stdio: ["ignore", "ignore", "ignore", fd], timeout: 10_000 });
    child.once("error", () => resolve(false));
    child.once("exit", (code) => resolve(code === 0));
  });
  if (!ok)
    throw new SharePathError(
      `'${path}' is not ${writable ? "readable and writable" : "readable"} by VMs (group '${VM_GROUP}'); grant it, e.g. ` +
        `chgrp -R ${VM_GROUP} '${path}' && chmod -R g+rwX '${path}'`,
    );
}
