/**
 * What one VM process costs the host, from /proc: CPU time (user and system, all threads, the
 * exited ones included), resident memory and its proportional share (pages shared with other
 * processes — branches mapping one snapshot's RAM — count in part). Linux only; a process that is
 * gone reads as zeros.
 */
import { readFile } from "node:fs/promises";
import { readProcStat } from "../util/proc-stat";

/** /proc reports CPU time in USER_HZ ticks: 100 per second on every architecture vmbranch runs on. */
const USER_HZ = 100;

/** Host cost of one process. */
export interface ProcessStats {
  cpuTimeMs: number;
  rssBytes: number;
  pssBytes: number;
}

/** Parse Rss and Pss (kB) out of /proc/<pid>/smaps_rollup. */
export function parseRollup(rollup: string): { rssBytes: number; pssBytes: number } {
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0) * 1024;
  return { rssBytes: kb("Rss"), pssBytes: kb("Pss") };
}

/** The host cost of process `pid` now. */
export async function readProcessStats(pid: number): Promise<ProcessStats> {
  const [stat, rollup] = await Promise.all([
    readProcStat(pid),
    readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => null),
  ]);
  if (stat === null) return { cpuTimeMs: 0, rssBytes: 0, pssBytes: 0 };
  return { cpuTimeMs: ((stat.utimeTicks + stat.stimeTicks) * 1000) / USER_HZ, ...(rollup ? parseRollup(rollup) : { rssBytes: 0, pssBytes: 0 }) };
}
