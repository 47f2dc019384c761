/**
 * Per-VM resource limits through cgroups: a memory ceiling (guest RAM plus QEMU's own needs) and
 * a bound on tasks, for each QEMU process and its loaders. Both hierarchies are supported: the
 * unified one (v2: memory.max, pids.max) and the legacy per-controller one (v1:
 * memory.limit_in_bytes, pids.max). Groups are made below the cgroup serve itself runs in (as a
 * delegated service would), never above it, so whatever limits the service's own group stays in
 * force. The probe says what is unavailable and why; nothing is skipped silently.
 */
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

const ROOT = "/sys/fs/cgroup";
/** Directory of vmbranch's groups inside the service's own cgroup. */
const PARENT = "vmbranch";

/** Where the limits of one VM live: the group directory of each controller (one for v2). */
export interface VmCgroup {
  /** Directories to write the pid into and to remove after the VM is gone. */
  dirs: string[];
}

/** The cgroup layout found on this host. */
export type CgroupLayout =
  | { version: 2; parent: string }
  | { version: 1; memoryParent: string; pidsParent: string }
  | { version: null; why: string };

/** The cgroup of this process per controller (v1) or the unified one (key ""), from /proc/self/cgroup. */
export async function ownCgroups(file = "/proc/self/cgroup"): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const text = await readFile(file, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1]!.split(",")) out.set(c, m[2]!);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(() => true, () => false);
}

async function makeParent(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
}

/** Finds a usable hierarchy and creates vmbranch's parent group(s); the reason when there is none. */
export async function probeCgroups(root = ROOT): Promise<CgroupLayout> {
  const own = await ownCgroups();
  try {
    const controllers = (await readFile(join(root, "cgroup.controllers"), "utf8").catch(() => null))?.split(/\s+/) ?? null;
    if (controllers) {
      if (!controllers.includes("memory") || !controllers.includes("pids")) return { version: null, why: `the unified cgroup hierarchy lacks the memory or pids controller (has: ${controllers.join(" ")})` };
      // Below the service's own group when it can delegate; a group that holds processes cannot
      // (the unified tree's rule: EBUSY), and then at the top, as VM managers there do.
      for (const base of [...new Set([join(root, own.get("") ?? "/"), root])]) {
        const parent = join(base, PARENT);
        try {
          await makeParent(parent);
          for (const dir of [base, parent]) await writeFile(join(dir, "cgroup.subtree_control"), "+memory +pids");
          return { version: 2, parent };
        } catch (err) {
          if (base === root) throw err;
          await rmdir(parent).catch(() => undefined);
        }
      }
    }
    const memory = join(root, "memory");
    const pids = join(root, "pids");
    if (!(await exists(join(memory, "cgroup.procs"))) || !(await exists(join(pids, "cgroup.procs"))))
      return { version: null, why: "no cgroup v2 tree and no v1 memory and pids hierarchies are mounted" };
    const memoryParent = join(memory, own.get("memory") ?? "/", PARENT);
    const pidsParent = join(pids, own.get("pids") ?? "/", PARENT);
    await makeParent(memoryParent);
    await makeParent(pidsParent);
    return { version: 1, memoryParent, pidsParent };
  } catch (err) {
    return { version: null, why: `cannot create vmbranch's cgroups: ${(err as Error).message}` };
  }
}

/** Limits of one VM group. */
export interface CgroupLimits {
  memoryBytes: number;
  tasks: number;
}

/** Creates the group `name` under `layout` with `limits`; null when cgroups are unavailable. */
export async function createVmCgroup(layout: CgroupLayout, name: string, limits: CgroupLimits): Promise<VmCgroup | null> {
  if (layout.version === null) return null;
  if (layout.version === 2) {
    const dir = join(layout.parent, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "memory.max"), String(limits.memoryBytes));
    await writeFile(join(dir, "pids.max"), String(limits.tasks));
    return { dirs: [dir] };
  }
  const mem = join(layout.memoryParent, name);
  const pids = join(layout.pidsParent, name);
  await mkdir(mem, { recursive: true });
  await mkdir(pids, { recursive: true });
  await writeFile(join(mem, "memory.limit_in_bytes"), String(limits.memoryBytes));
  await writeFile(join(pids, "pids.max"), String(limits.tasks));
  return { dirs: [mem, pids] };
}

/** Moves process `pid` (all its threads) into `group`. */
export async function enterCgroup(group: VmCgroup, pid: number): Promise<void> {
  for (const dir of group.dirs) await writeFile(join(dir, "cgroup.procs"), String(pid));
}

/** Removes the group's directories (after its processes are gone); missing ones are fine. */
export async function removeCgroup(group: VmCgroup): Promise<void> {
  for (const dir of group.dirs) {
    // A process that just died may still be leaving its group: the pids controller counts it until
    // it is reaped, and a VM that outlived the serve that started it is reaped by init, at init's
    // pace. Short retries, for up to 10 s.
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") break;
        if (code !== "EBUSY" || attempt >= 500) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

/** Removes vmbranch's parent groups when they are empty (at service shutdown); never fails. */
export async function removeParents(layout: CgroupLayout): Promise<void> {
  const dirs = layout.version === 2 ? [layout.parent] : layout.version === 1 ? [layout.memoryParent, layout.pidsParent] : [];
  for (const dir of dirs) await rmdir(dir).catch(() => undefined);
}
