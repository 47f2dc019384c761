/**
 * Where one VM's runtime files live: a run directory holding the QMP socket, pidfile, serial log,
 * QEMU's own log and the guest configuration file. Owns the unix-socket length limit: a socket
 * path must fit in sun_path (107 bytes), so when the run directory is too deep the socket is
 * reached through a short symlink, derived from the run directory so a restarted `serve` finds it
 * again, kept in a directory only this user can enter (/run/vmbranch for root, else a 0700
 * directory of its own in the temp dir, checked before use). Choosing the run directory (under
 * the data dir) is the caller's.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readlink, rm, symlink, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, normalize } from "node:path";

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Files of one VM. Every path is absolute. */
export interface VmPaths {
  runDir: string;
  /** QMP socket as QEMU binds it and we connect to it (possibly through `shortLink`). */
  qmpSocket: string;
  /** The guest agent's serial port as a socket QEMU listens on (beside the QMP socket, never longer). */
  agentSocket: string;
  pidFile: string;
  /** Guest serial console (append-only across restarts). */
  serialLog: string;
  /** QEMU's own stdout and stderr, rewritten on each start. */
  qemuLog: string;
  /** Rendered guest configuration passed through fw_cfg. */
  guestConfig: string;
  /** What the supervisor recorded at launch (uuid, pid, start time, serial offset) for a later attach. */
  stateFile: string;
  /** Symlink to runDir used for the socket when runDir is too long; null when not needed. */
  shortLink: string | null;
}

/** The run directory cannot be used (relative, or too long even through a short link). */
export class VmPathsError extends Error {
  override name = "VmPathsError";
}

const SOCKET_NAME = "qmp.sock";
// No longer than SOCKET_NAME: a directory that fits the QMP socket fits this one too.
const AGENT_SOCKET_NAME = "ga.sock";

/** Where short links live unless told otherwise: a private directory of this user. */
export function defaultShortLinkRoot(): string {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? "/run/vmbranch" : join(tmpdir(), `vmbranch-${uid}`);
}

/** Computes the paths of a VM whose run directory is `runDir` (absolute). Pure apart from tmpdir(). */
export function vmPaths(runDir: string, opts: { shortLinkRoot?: string } = {}): VmPaths {
  if (!isAbsolute(runDir)) throw new VmPathsError(`run directory must be absolute: '${runDir}'`);
  // QEMU reads % in its -D log file name as a pid placeholder, and a newline breaks our logs.
  if (/[%\0\n\r]/.test(runDir)) throw new VmPathsError(`run directory must not contain %, NUL or newlines: '${runDir}'`);
  const dir = normalize(runDir).replace(/\/+$/, "");
  let qmpSocket = join(dir, SOCKET_NAME);
  let shortLink: string | null = null;
  if (Buffer.byteLength(qmpSocket) > MAX_SOCKET_PATH_BYTES) {
    const root = opts.shortLinkRoot ?? defaultShortLinkRoot();
    shortLink = join(root, `vmb-${createHash("sha256").update(dir).digest("hex").slice(0, 16)}`);
    qmpSocket = join(shortLink, SOCKET_NAME);
    if (Buffer.byteLength(qmpSocket) > MAX_SOCKET_PATH_BYTES) {
      throw new VmPathsError(
        `QMP socket path too long: '${join(dir, SOCKET_NAME)}' and its short form '${qmpSocket}' exceed ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter data dir or TMPDIR`,
      );
    }
  }
  return {
    runDir: dir,
    qmpSocket,
    agentSocket: join(dirname(qmpSocket), AGENT_SOCKET_NAME),
    pidFile: join(dir, "qemu.pid"),
    serialLog: join(dir, "serial.log"),
    qemuLog: join(dir, "qemu.log"),
    guestConfig: join(dir, "guest-config.sh"),
    stateFile: join(dir, "vm.json"),
    shortLink,
  };
}

/** Creates the run directory (mode 0700) and the short link if one is needed; idempotent. */
export async function prepareVmPaths(paths: VmPaths): Promise<void> {
  await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  if (!paths.shortLink) return;
  await privateLinkRoot(dirname(paths.shortLink));
  try {
    await symlink(paths.runDir, paths.shortLink);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    await checkShortLink(paths.shortLink, paths.runDir);
  }
}

/** Removes the socket, pidfile, state file and short link; keeps logs and the guest configuration. */
export async function removeVmRuntimeFiles(paths: VmPaths): Promise<void> {
  await rm(join(paths.runDir, SOCKET_NAME), { force: true });
  await rm(join(paths.runDir, AGENT_SOCKET_NAME), { force: true });
  await rm(paths.pidFile, { force: true });
  await rm(paths.stateFile, { force: true });
  if (paths.shortLink) {
    // Only our own link: never follow or delete something else that took its name.
    const target = await readlink(paths.shortLink).catch(() => null);
    if (target === paths.runDir) await unlink(paths.shortLink).catch(() => undefined);
  }
}

/** Removes the whole run directory and the short link. Only valid once the VM is gone. */
export async function removeVmPaths(paths: VmPaths): Promise<void> {
  await removeVmRuntimeFiles(paths);
  await rm(paths.runDir, { recursive: true, force: true });
}

/** Creates `dir` 0700 or checks that it is this user's own directory, closed to others (not a link). */
async function privateLinkRoot(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0)
    throw new VmPathsError(`'${dir}' is not a directory of this user's closed to others (0700); remove it or use a shorter data dir`);
}

async function checkShortLink(link: string, runDir: string): Promise<void> {
  // The temp dir is shared: accept an existing entry only if it is our own link to our run dir.
  const st = await lstat(link);
  const target = st.isSymbolicLink() ? await readlink(link) : null;
  const uid = process.getuid?.();
  if (target !== runDir || (uid !== undefined && st.uid !== uid)) {
    throw new VmPathsError(`'${link}' exists and is not this user's link to '${runDir}'; remove it or use a shorter data dir`);
  }
}
