/**
 * A cross-process lock for image builds: two `vmbranch image build` runs (a test and CI setup, say)
 * must not build the same image at once. The lock is a pid file (host/util/pid-lock.ts); a lock
 * whose owner is gone is taken over. Owns nothing else.
 */
import { tryPidLock, processExists } from "../util/pid-lock";

/** Thrown when the lock stays held by a live process past the timeout. */
export class BuildLockTimeoutError extends Error {
  override name = "BuildLockTimeoutError";
}

/**
 * Runs `fn` while holding the pid lock `lockFile`; waits (polling) while another holder has it,
 * up to `timeoutMs`. `onWait` is called once when waiting starts. Holders in one process wait for
 * each other too (the pid is alive).
 */
export async function withBuildLock<T>(lockFile: string, fn: () => Promise<T>, opts: { timeoutMs?: number; onWait?: () => void } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15 * 60_000);
  let waited = false;
  let release: () => void;
  for (;;) {
    const attempt = tryPidLock(lockFile, processExists);
    if ("release" in attempt) {
      release = attempt.release;
      break;
    }
    if (Date.now() > deadline) throw new BuildLockTimeoutError(`image build lock ${lockFile} is still held`);
    if (!waited && opts.onWait) opts.onWait();
    waited = true;
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    return await fn();
  } finally {
    release();
  }
}
