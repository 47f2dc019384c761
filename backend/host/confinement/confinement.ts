/**
 * How QEMU processes are confined on this host, found out once when the service starts, and what
 * one process gets from it: its own uid in the shared VM group, a chroot jail, QEMU's seccomp
 * filter, and a cgroup with memory and task limits. Each piece is used where the host allows it;
 * what is not available is said in the report (logged by serve), never skipped silently.
 */
import { chmod, chown, open, rm } from "node:fs/promises";
import { run } from "../util/exec";
import { createVmCgroup, enterCgroup, probeCgroups, removeCgroup, removeParents, type CgroupLayout, type VmCgroup } from "./cgroups";
import { jailRoot, prepareJail, returnLent, type Jail } from "./jail";
import { VM_GROUP, VmUidPool, ensureVmGroup } from "./vm-identity";

/** Memory a confined QEMU may use beyond its guest RAM (translation cache, devices, I/O buffers). */
export const QEMU_MEMORY_HEADROOM_MB = 256;
/** Tasks (threads) a QEMU process may have: vCPUs, I/O workers (up to 64), RCU and the main loop. */
export const QEMU_TASKS_MAX = 256;

/** What this host offers for confining QEMU. */
export interface HostConfinement {
  /** Run each QEMU as its own uid in a jail (needs root); null when not. */
  identities: { gid: number; uids: VmUidPool } | null;
  /** A device node (in the data dir) jails link to so a VM can write-protect its RAM; null when unusable. */
  userfaultfd: string | null;
  /** QEMU has its seccomp filter compiled in. */
  sandbox: boolean;
  cgroups: CgroupLayout;
  /** One line per piece: on, or off and why. */
  report: string[];
}

/**
 * Finds out what confinement this host allows. `userfaultfdNode` is where to make the device node
 * jails link to (in the data dir: jails must be on its filesystem for the links).
 */
export async function probeConfinement(o: { userfaultfdNode: string; qemuBinary: string }): Promise<HostConfinement> {
  const report: string[] = [];
  const root = process.getuid?.() === 0;
  let identities: HostConfinement["identities"] = null;
  if (root) {
    try {
      identities = { gid: await ensureVmGroup(), uids: new VmUidPool() };
      report.push(`QEMU runs as a uid of its own per VM in group '${VM_GROUP}' (gid ${identities.gid}), chrooted into a jail`);
    } catch (err) {
      report.push(`UNAVAILABLE: per-VM users and jails (cannot create group '${VM_GROUP}': ${(err as Error).message}); QEMU keeps serve's user`);
    }
  } else {
    report.push(`UNAVAILABLE: per-VM users and jails (serve is not root); QEMU runs as serve's user (uid ${process.getuid?.()})`);
  }
  const userfaultfd = identities ? await userfaultfdNode(o.userfaultfdNode, identities.gid, report) : null;
  const sandbox = await hasSandbox(o.qemuBinary);
  report.push(sandbox ? "QEMU's seccomp filter is on (-sandbox)" : "UNAVAILABLE: QEMU's seccomp filter (this QEMU was built without seccomp)");
  const cgroups = await probeCgroups();
  if (cgroups.version === null) report.push(`UNAVAILABLE: per-VM memory and task limits (${cgroups.why})`);
  else report.push(`per-VM memory and task limits through cgroup v${cgroups.version}`);
  return { identities, userfaultfd, sandbox, cgroups, report };
}

/** True when `qemu -h` lists -sandbox (seccomp compiled in). */
async function hasSandbox(binary: string): Promise<boolean> {
  const help = await run(binary, ["-h"], { timeoutMs: 10_000 }).catch(() => "");
  return /^-sandbox /m.test(help);
}

/**
 * A userfaultfd device node for jails (root:VM group, 0660), or null with the reason reported.
 * Without it a jailed VM cannot take live snapshots and they fall back to pausing for the copy.
 */
async function userfaultfdNode(node: string, gid: number, report: string[]): Promise<string | null> {
  const unusable = (why: string) => {
    report.push(`UNAVAILABLE: live snapshots of confined VMs (${why}); snapshots pause the guest for the whole RAM copy`);
    return null;
  };
  try {
    await rm(node, { force: true });
    // /dev/userfaultfd is char 10:<dynamic minor>; copy the host's numbers.
    const st = await run("stat", ["-c", "%t %T", "/dev/userfaultfd"]).catch(() => "");
    const m = /^([0-9a-f]+) ([0-9a-f]+)$/.exec(st.trim());
    if (!m) return unusable("the host has no /dev/userfaultfd (kernel older than 6.1?)");
    await run("mknod", ["-m", "660", node, "c", String(parseInt(m[1]!, 16)), String(parseInt(m[2]!, 16))]);
    await chown(node, 0, gid);
    await chmod(node, 0o660);
    // A filesystem mounted nodev refuses to open device nodes.
    await (await open(node, "r+")).close();
    return node;
  } catch (err) {
    await rm(node, { force: true }).catch(() => undefined);
    return unusable(`cannot use a device node at ${node}: ${(err as Error).message}`);
  }
}

/** How one QEMU process is confined. */
export interface ProcessConfinement {
  /** `-run-with user=uid:gid,chroot=…`; null runs QEMU as serve's user, unjailed. */
  runAs: { uid: number; gid: number; chroot: string } | null;
  sandbox: boolean;
  jail: Jail | null;
  /** What to record for finding the confinement again after a restart of the service. */
  record: ConfinementRecord;
  /** Called with QEMU's pid right after it was spawned. */
  enter(pid: number): Promise<void>;
  /** Gives back the uid and removes the cgroup (after the process is gone). Idempotent. */
  release(): Promise<void>;
}

/** The part of a confinement that outlives the service (kept with the VM's launch files). */
export interface ConfinementRecord {
  uid: number | null;
  /** The jail whose lent files go back when the process ends (a loader's lives inside its source's: null). */
  jail: string | null;
  cgroupDirs: string[];
}

/** Options of `confineProcess`. */
export interface ConfineOptions {
  /** Name of the process's cgroup (its VM's or loader's uuid). */
  name: string;
  runDir: string;
  memoryMb: number;
  /** Run in this jail with its identity (a loader inside its source's jail). */
  jail?: Jail;
  /** Run without a jail or own uid even where the host allows them (a loader of an unjailed VM). */
  unjailed?: boolean;
}

/** Sets up the confinement of one QEMU process (jail, uid, cgroup) before it is launched. */
export async function confineProcess(host: HostConfinement, o: ConfineOptions): Promise<ProcessConfinement> {
  let jail: Jail | null = null;
  if (host.identities && !o.unjailed) {
    if (o.jail) {
      jail = o.jail;
      host.identities.uids.hold(jail.uid);
    } else {
      const uid = host.identities.uids.take();
      try {
        jail = await prepareJail(jailRoot(o.runDir), uid, host.identities.gid, host.userfaultfd);
      } catch (err) {
        host.identities.uids.release(uid);
        throw err;
      }
    }
  }
  let cgroup: VmCgroup | null = null;
  try {
    cgroup = await createVmCgroup(host.cgroups, `vm-${o.name}`, { memoryBytes: (o.memoryMb + QEMU_MEMORY_HEADROOM_MB) * 1024 * 1024, tasks: QEMU_TASKS_MAX });
  } catch (err) {
    if (jail) host.identities?.uids.release(jail.uid);
    throw err;
  }
  const owned = jail && !o.jail ? jail.root : null;
  const confinement = adoptConfinement(host, { uid: jail?.uid ?? null, jail: owned, cgroupDirs: cgroup?.dirs ?? [] }, false);
  return { ...confinement, runAs: jail ? { uid: jail.uid, gid: jail.gid, chroot: jail.root } : null, jail };
}

/** The confinement of a process found again after a restart (`hold` its uid), or of one just set up. */
export function adoptConfinement(host: HostConfinement, record: ConfinementRecord, hold = true): Omit<ProcessConfinement, "runAs" | "jail"> {
  if (hold && record.uid !== null) host.identities?.uids.hold(record.uid);
  const cgroup: VmCgroup | null = record.cgroupDirs.length > 0 ? { dirs: record.cgroupDirs } : null;
  let released = false;
  return {
    sandbox: host.sandbox,
    record,
    async enter(pid) {
      if (cgroup) await enterCgroup(cgroup, pid);
    },
    async release() {
      if (released) return;
      released = true;
      if (record.uid !== null) host.identities?.uids.release(record.uid);
      if (record.jail) await returnLent(record.jail).catch(() => undefined);
      if (cgroup) await removeCgroup(cgroup).catch(() => undefined);
    },
  };
}

/** Tidies what the probe made (empty parent cgroups) when the service stops. */
export async function closeConfinement(host: HostConfinement): Promise<void> {
  await removeParents(host.cgroups);
}

export type { Jail };
