/**
 * How much memory and RAM-directory space this host has (free) right now: MemTotal and MemAvailable from
 * /proc/meminfo, the free 2 MiB huge pages of the kernel's pool, and the free space of the
 * filesystem holding the RAM directory. Pure reads;
 * deciding whether that is enough is core's (core/capacity.ts).
 */
import { HUGE_PAGE_MB, type HostCapacity, type HostMemory } from "./vm-driver";
import { readFile, statfs } from "node:fs/promises";

const MIB = 1024 * 1024;

export type { HostCapacity, HostMemory };

/** MemAvailable of /proc/meminfo in MiB (null when unreadable). */
export async function memoryAvailableMb(meminfo = "/proc/meminfo"): Promise<number | null> {
  const text = await readFile(meminfo, "utf8").catch(() => null);
  const m = text ? /^MemAvailable:\s+(\d+) kB$/m.exec(text) : null;
  return m ? Math.floor(Number(m[1]) / 1024) : null;
}

/** MemTotal and MemAvailable of /proc/meminfo in MiB (each null when unreadable): a host's heartbeat figures. */
export async function hostMemory(meminfo = "/proc/meminfo"): Promise<HostMemory> {
  const text = await readFile(meminfo, "utf8").catch(() => null);
  const field = (name: string) => {
    const m = text ? new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text) : null;
    return m ? Math.floor(Number(m[1]) / 1024) : null;
  };
  return { totalMb: field("MemTotal"), availableMb: field("MemAvailable") };
}

/** Space available to unprivileged writers on the filesystem of `dir`, in MiB (null when unreadable). */
export async function freeSpaceMb(dir: string): Promise<number | null> {
  const s = await statfs(dir).catch(() => null);
  return s ? Math.floor((s.bavail * s.bsize) / MIB) : null;
}

/**
 * The 2 MiB huge pages of the kernel's pool that no guest holds or has reserved, in MiB (null where
 * the kernel has no such pool). A guest reserves all of its pages when QEMU maps them and faults
 * them in as it touches them: the kernel counts reserved pages as free until then.
 */
export async function hugePagesFreeMb(pool = "/sys/kernel/mm/hugepages/hugepages-2048kB"): Promise<number | null> {
  const read = async (name: string) => Number((await readFile(`${pool}/${name}`, "utf8").catch(() => "")).trim() || NaN);
  const [free, reserved] = await Promise.all([read("free_hugepages"), read("resv_hugepages")]);
  return Number.isInteger(free) && Number.isInteger(reserved) ? (free - reserved) * HUGE_PAGE_MB : null;
}

/** The figures at once. */
export async function hostCapacity(ramDir: string): Promise<HostCapacity> {
  const [memoryAvailable, ramDirFree, hugePagesFree] = await Promise.all([memoryAvailableMb(), freeSpaceMb(ramDir), hugePagesFreeMb()]);
  return { memoryAvailableMb: memoryAvailable, ramDirFreeMb: ramDirFree, hugePagesFreeMb: hugePagesFree };
}
