/** Memory of VM processes: proportional set size (PSS), which splits shared pages among their users. */
import { readdirSync, readFileSync } from "node:fs";

/** PSS of `pid` in MiB (0 when it is gone). */
export function pssMiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Total PSS of `pids` in MiB. */
export function totalPssMiB(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + pssMiB(pid), 0);
}

/** The pid of the QEMU process of instance `uuid` (its `-name vmbranch-<uuid>`); throws when there is none. */
export function pidOf(uuid: string, dataDir: string): number {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(`vmbranch-${uuid}`)) return Number(e);
    } catch {
      /* gone */
    }
  }
  throw new Error(`no process for ${uuid} under ${dataDir}`);
}
