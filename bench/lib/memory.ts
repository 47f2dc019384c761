/** Memory of VM processes: proportional set size (PSS), which splits shared pages among their users. */
import { readFileSync } from "node:fs";

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
