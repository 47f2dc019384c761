/**
 * Finding and checking vmbranch QEMU processes through /proc, for processes that are not our
 * children (they run in sessions of their own and outlive `serve`). A pid alone is never trusted: it must be alive
 * (not a zombie) and its command line must carry `-name vmbranch-<uuid>`, so a recycled pid is
 * never mistaken for a VM. Deciding what to do with a found process is the caller's.
 */
import { readdir, readFile } from "node:fs/promises";
import { isDead, readProcStat } from "../util/proc-stat";
import { PROCESS_NAME_PREFIX, processName } from "./command-line";

/** A vmbranch QEMU process found on this host. */
export interface FoundVmProcess {
  pid: number;
  uuid: string;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): a pid's identity over time. */
  startTime: number;
}

/** Command-line arguments of `pid`, or null when it is gone (or not readable). */
export async function readCmdline(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((_, i, a) => i < a.length - 1 || a[i] !== "");
  } catch {
    return null;
  }
}

export { readProcStat };

/** The UUID in a `-name` value of ours (`vmbranch-<uuid>` optionally followed by `,options`), or null. */
export function uuidFromCmdline(args: string[]): string | null {
  const i = args.indexOf("-name");
  const value = i >= 0 ? args[i + 1] : undefined;
  if (!value?.startsWith(PROCESS_NAME_PREFIX)) return null;
  const name = value.split(",")[0] as string;
  return name.slice(PROCESS_NAME_PREFIX.length) || null;
}

/** True when `pid` is a live (non-zombie) QEMU named `vmbranch-<uuid>`. */
export async function isVmProcess(pid: number, uuid: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  const [args, stat] = await Promise.all([readCmdline(pid), readProcStat(pid)]);
  if (!args || !stat || isDead(stat)) return false;
  return uuidFromCmdline(args) === uuid && args.includes(processName(uuid));
}

/** True while `pid` exists and is not a zombie (whatever it is). */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== null && !isDead(stat);
}

/** Every live vmbranch QEMU process on this host (leftover detection, test teardown checks). */
export async function findVmProcesses(): Promise<FoundVmProcess[]> {
  const found: FoundVmProcess[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const args = await readCmdline(pid);
    const uuid = args ? uuidFromCmdline(args) : null;
    if (!uuid) continue;
    const stat = await readProcStat(pid);
    if (stat && !isDead(stat)) found.push({ pid, uuid, startTime: stat.startTime });
  }
  return found;
}

/** Polls until `pid` is gone (or a zombie); false when it is still there after `timeoutMs`. */
export async function waitForPidGone(pid: number, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
