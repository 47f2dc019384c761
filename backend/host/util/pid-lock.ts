/**
 * The one pid-file lock: a file holding its owner's pid, made atomically (written aside, then
 * hard-linked into place, so nobody ever reads it half-written). A lock whose owner is gone is
 * taken over. `serve` holds one per data dir, image builds one per image.
 */
import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";

/** Either the lock (release it when done) or the pid of the live process that holds it. */
export type PidLockAttempt = { release: () => void } | { holder: number };

/**
 * Try once to take `file`. `ownerAlive(pid)` says whether a recorded owner still holds it
 * (a dead owner's lock is removed and taken; an unreadable one counts as dead).
 */
export function tryPidLock(file: string, ownerAlive: (pid: number) => boolean): PidLockAttempt {
  const aside = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(aside, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(aside, file);
        return { release: () => releasePidLock(file) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const pid = recordedPid(file);
      if (pid !== null && ownerAlive(pid)) return { holder: pid };
      // Its owner is gone: the lock is stale (a directory is the stale lock of an older version).
      rmSync(file, { recursive: true, force: true });
    }
    return { holder: recordedPid(file) ?? 0 };
  } finally {
    rmSync(aside, { force: true });
  }
}

/** The pid recorded in `file`, or null when it cannot be read. */
function recordedPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Remove `file` if this process still owns it. */
function releasePidLock(file: string): void {
  try {
    if (recordedPid(file) === process.pid) unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** True while a process `pid` exists (it may be another user's). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
