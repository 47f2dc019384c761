/**
 * What QEMU processes of this data dir may leave behind when serve dies mid-operation: snapshot
 * loaders (their QEMU, run directory, cgroup, and jail inside their source's jail) and VMs whose
 * instance the store no longer knows. Found through /proc and the run directory; only processes
 * whose pidfile lies in this data dir's run directory count as ours, so another serve's VMs on
 * the same host are never touched. Deciding when to remove them is core's (core/doctor.ts).
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { adoptConfinement, type ConfinementRecord, type HostConfinement } from "../confinement/confinement";
import { jailRoot } from "../confinement/jail";
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
  return out;
}
