/**
 * A cross-process lock for image builds: two `vmbranch image build` runs (a test and CI setup, say)
 * must not build the same image at once. A lock is a directory created atomically with mkdir,
 * holding the owner's pid; a lock whose owner is gone is taken over. Owns nothing else.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Thrown when the lock stays held by a live process past the timeout. */
export class BuildLockTimeoutError extends Error {
  override name = "BuildLockTimeoutError";
}

function ownerAlive(lockDir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(lockDir, "pid"), "utf8"));
  } catch {
    // Created but pid not written yet: the owner is mid-acquire, unless that was long ago.
    try {
      return Date.now() - statSync(lockDir).mtimeMs < 10_000;
    } catch {
      return false;
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` while holding the lock directory `lockDir`; waits (polling) while another live
 * process holds it, up to `timeoutMs`. `onWait` is called once when waiting starts.
 */
export async function withBuildLock<T>(lockDir: string, fn: () => Promise<T>, opts: { timeoutMs?: number; onWait?: () => void } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15 * 60_000);
  let waited = false;
  let staleChecks = 0;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (!ownerAlive(lockDir)) {
      // Seen dead twice in a row: not a race with an owner that is just writing its pid.
      if (++staleChecks >= 2) rmSync(lockDir, { recursive: true, force: true });
    } else staleChecks = 0;
    if (Date.now() > deadline) throw new BuildLockTimeoutError(`image build lock ${lockDir} is still held`);
    if (!waited && opts.onWait) opts.onWait();
    waited = true;
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
