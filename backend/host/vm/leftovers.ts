/**
 * What QEMU processes of this data dir may leave behind when serve dies mid-operation: snapshot
 * loaders (their QEMU, run directory, cgroup, and jail inside their source's jail), VMs whose
 * instance the store no longer knows, and the confinement of VMs that ended while no serve watched
 * (their cgroup directories, the files lent to their jails); a cgroup that still holds a process,
 * or a jail whose VM or any loader still runs, is never touched. Found through /proc and the run directory; only processes
 * whose pidfile lies in this data dir's run directory count as ours, so another serve's VMs on
 * the same host are never touched. Deciding when to remove them is core's (core/doctor.ts).
 */
import { readdir, readFile, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { adoptConfinement, type ConfinementRecord, type HostConfinement } from "../confinement/confinement";
import { jailRoot, returnLent } from "../confinement/jail";
import { findVmProcesses, isVmProcess, readCmdline, waitForPidGone } from "../qemu/vm-processes";
import { removeVmPaths, vmPaths } from "../qemu/vm-paths";
import type { VmLeftover } from "../vm-driver";
import { LOADER_DIR_PREFIX, LOADER_JAIL_PREFIX, LOADER_RECORD, activeLoaders } from "./loader";

async function killVm(pid: number, uuid: string): Promise<void> {
  if (!(await isVmProcess(pid, uuid))) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
  if (!(await waitForPidGone(pid, 10_000))) throw new Error(`QEMU ${pid} did not end after SIGKILL`);
}

/** Every leftover VM process and loader of the run directory `runDir`; `owned` are the instances the store knows. */
export async function vmLeftovers(runDir: string, host: HostConfinement, owned: ReadonlySet<string>): Promise<VmLeftover[]> {
  const out: VmLeftover[] = [];
  const entries = await readdir(runDir).catch(() => [] as string[]);
  const procs = [];
  for (const p of await findVmProcesses()) {
    const args = await readCmdline(p.pid);
    const i = args?.indexOf("-pidfile") ?? -1;
    if (args && i >= 0 && args[i + 1]?.startsWith(`${runDir}/`)) procs.push({ ...p, pidfile: args[i + 1]! });
  }
  const loaders = new Set<string>();
  for (const entry of entries.filter((e) => e.startsWith(LOADER_DIR_PREFIX))) {
    const uuid = entry.slice(LOADER_DIR_PREFIX.length);
    loaders.add(uuid);
    if (activeLoaders.has(uuid)) continue;
    const dir = join(runDir, entry);
    const proc = procs.find((p) => p.uuid === uuid);
    out.push({
      kind: "loader",
      what: `snapshot loader ${uuid}${proc ? ` (QEMU pid ${proc.pid})` : " (its QEMU is gone)"} in ${dir}`,
      pid: proc?.pid ?? null,
      async remove() {
        if (proc) await killVm(proc.pid, uuid);
        const record = await readFile(join(dir, LOADER_RECORD), "utf8").then((t) => JSON.parse(t) as ConfinementRecord, () => null);
        if (record) await adoptConfinement(host, { uid: null, jail: null, cgroupDirs: record.cgroupDirs }, false).release();
        await removeVmPaths(vmPaths(dir));
      },
    });
  }
  // A loader's jail inside its source's jail, named after the loader's uuid.
  for (const entry of entries.filter((e) => !e.startsWith("."))) {
    const jail = jailRoot(join(runDir, entry));
    for (const inner of (await readdir(jail).catch(() => [] as string[])).filter((e) => e.startsWith(LOADER_JAIL_PREFIX))) {
      const prefix = inner.slice(LOADER_JAIL_PREFIX.length);
      if ([...activeLoaders].some((u) => u.startsWith(prefix))) continue;
      const dir = join(jail, inner);
      out.push({ kind: "loader", what: `jail of an ended snapshot loader: ${dir}`, pid: null, remove: () => rm(dir, { recursive: true, force: true }) });
    }
  }
  for (const p of procs) {
    if (owned.has(p.uuid) || loaders.has(p.uuid)) continue;
    out.push({ kind: "unowned-vm", what: `QEMU pid ${p.pid} of instance ${p.uuid}, which the store does not know`, pid: p.pid, remove: () => killVm(p.pid, p.uuid) });
  }
  out.push(...(await confinementLeftovers(runDir, host, owned, entries, procs)));
  return out;
}

/** The cgroup parents of this host's layout (one per controller with v1). */
function cgroupParents(host: HostConfinement): string[] {
  const l = host.cgroups;
  return l.version === 2 ? [l.parent] : l.version === 1 ? [l.memoryParent, l.pidsParent] : [];
}

/**
 * Cgroup directories (`vm-<uuid>`) and jails with lent files of VMs of this data dir (an instance
 * the store knows, or one with a run directory here) whose QEMU is gone. Caller decides when it
 * is safe to look: a launch makes both before its process exists.
 */
async function confinementLeftovers(runDir: string, host: HostConfinement, owned: ReadonlySet<string>, entries: string[], procs: { pid: number; uuid: string }[]): Promise<VmLeftover[]> {
  const out: VmLeftover[] = [];
  const ours = new Set([...owned, ...entries.filter((e) => !e.startsWith("."))]);
  const alive = new Set(procs.map((p) => p.uuid));
  for (const parent of cgroupParents(host)) {
    for (const e of await readdir(parent).catch(() => [] as string[])) {
      const uuid = e.startsWith("vm-") ? e.slice(3) : null;
      if (!uuid || !ours.has(uuid) || alive.has(uuid) || activeLoaders.has(uuid)) continue;
      const dir = join(parent, e);
      const procsIn = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => null);
      if (procsIn === null || procsIn.trim() !== "") continue;
      out.push({ kind: "confinement", what: `cgroup of an ended VM: ${dir}`, pid: null, remove: () => rmdir(dir) });
    }
  }
  // A loader still running lives in its source's jail: leave every jail alone while one does.
  const loaderRuns = procs.some((p) => !owned.has(p.uuid) && entries.includes(`${LOADER_DIR_PREFIX}${p.uuid}`));
  for (const uuid of ours) {
    const root = jailRoot(join(runDir, uuid));
    if (alive.has(uuid) || loaderRuns || !(await readFile(`${root}.lent`, "utf8").then(() => true, () => false))) continue;
    out.push({ kind: "confinement", what: `files still lent to the jail of an ended VM: ${root}`, pid: null, remove: () => returnLent(root) });
  }
  return out;
}
