/**
 * One process at a time owns a data directory's state: `vmbranch serve`, or `vmbranch store
 * migrate` while it reads the state. The lock is the pid file `<data-dir>/serve.pid`
 * (host/util/pid-lock.ts); a holder that is gone (or a pid reused by another program) is taken over.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tryPidLock } from "../host/util/pid-lock";
import { isDead, readProcStatSync } from "../host/util/proc-stat";

/** True when `pid` is a live (not zombie) vmbranch process owning a data dir: a SIGKILLed one's pid file must not lock out its successor. */
function isLiveOwner(pid: number): boolean {
  const stat = readProcStatSync(pid);
  if (!stat || isDead(stat)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return args.includes("serve") || (args.includes("store") && args.includes("migrate"));
  } catch {
    return false;
  }
}

/** Take the data dir's lock for `what` ("serve", "store migrate"); throws naming the holder when another process has it. Returns its release. */
export function lockDataDir(dataDir: string, what: string): () => void {
  const attempt = tryPidLock(join(dataDir, "serve.pid"), isLiveOwner);
  if ("holder" in attempt) throw new DataDirBusy(`another vmbranch process (pid ${attempt.holder}, serve or store migrate) uses ${dataDir}: stop it before ${what}`);
  return attempt.release;
}

/** The data dir is in use by another vmbranch process. */
export class DataDirBusy extends Error {
  override name = "DataDirBusy";
}
