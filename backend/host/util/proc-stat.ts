/**
 * The one reader of /proc/<pid>/stat: state letter, CPU ticks and start time of a process. The
 * command (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/** What /proc/<pid>/stat says about a process. */
export interface ProcStat {
  /** State letter (field 3): R, S, D, Z (zombie), X (dead), … */
  state: string;
  /** User and system CPU time in clock ticks (fields 14 and 15). */
  utimeTicks: number;
  stimeTicks: number;
  /** Start time in clock ticks since boot (field 22): a pid's identity over time. */
  startTime: number;
}

/** Parse one /proc/<pid>/stat line. */
export function parseProcStat(raw: string): ProcStat {
  const rest = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3.
  const field = (n: number) => rest[n - 3];
  return { state: field(3) ?? "?", utimeTicks: Number(field(14)), stimeTicks: Number(field(15)), startTime: Number(field(22)) };
}

/** The stat of `pid`, or null when it is gone (or not readable). */
export async function readProcStat(pid: number): Promise<ProcStat | null> {
  return readFile(`/proc/${pid}/stat`, "utf8").then(parseProcStat, () => null);
}

/** The stat of `pid` read synchronously (start-up checks), or null when it is gone. */
export function readProcStatSync(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** True for a process that has ended but was not reaped yet, or is being torn down. */
export function isDead(stat: ProcStat): boolean {
  return stat.state === "Z" || stat.state === "X";
}
