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

/** Where the PSS of a VM process goes, in MiB. */
export interface PssParts {
  /** The guest RAM mapping's pages still shared with the file it maps (a branch's RAM image). */
  guestShared: number;
  /** Guest RAM pages the guest wrote since (copies of its own) or, for a booted guest, all it touched. */
  guestPrivate: number;
  /** Everything else: QEMU's own (translation cache, heap, libraries' share). */
  qemu: number;
}

/** PSS of `pid` split by `PssParts`; the guest RAM is the mapping of exactly `guestMb` MiB. */
export function pssParts(pid: number, guestMb: number): PssParts {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch {
    return { guestShared: 0, guestPrivate: 0, qemu: 0 };
  }
  let total = 0;
  let guestPss = 0;
  let guestAnon = 0;
  // smaps is one block per mapping: a header line, then "Key: N kB" lines.
  for (const block of text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(block)?.[1] ?? 0);
    total += kb("Pss");
    if (kb("Size") === guestMb * 1024) {
      guestPss += kb("Pss");
      guestAnon += kb("Anonymous");
    }
  }
  return { guestShared: (guestPss - guestAnon) / 1024, guestPrivate: guestAnon / 1024, qemu: (total - guestPss) / 1024 };
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
