/**
 * The QEMU implementation of `VmDriver`: launches VMs that outlive the service (cold boots, or
 * restores that map a snapshot's RAM image copy-on-write and load its device state), each confined
 * as far as the host allows (confinement.ts), and finds them again after a restart of the service.
 * The launch spec and the confinement are kept in the run directory so a reattached VM can still
 * be snapshotted and its confinement undone when it ends.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { adoptConfinement, confineProcess, type ConfinementRecord, type HostConfinement } from "../confinement/confinement";
import { jailRoot, lendFile } from "../confinement/jail";
import { renderGuestConfig } from "../images/guest-config";
import { MACHINE_ALIAS, restoreRefusal, type QemuMachine } from "../qemu/machine-types";
import { incomingFdOf } from "../qemu/vm-launch";
import { VmProcess } from "../qemu/vm-process";
import { prepareVmPaths, vmPaths } from "../qemu/vm-paths";
import { hostCapacity, hostMemory } from "../capacity";
import { HOST_FORWARD_IP, isPortFree, pickFreePort, pickInRange, type PortRange } from "../net/ports";
import { readConsoleLog } from "../qemu/console-log";
import type { ConsoleSlice, GuestNetwork, HostCapacity, HostMemory, SnapshotMachine, VmDisk, VmDriver, VmHandle, VmLaunchSpec, VmLeftover, VmShare } from "../vm-driver";
import { vmLeftovers } from "./leftovers";
import { completed, waitMigration } from "./migration";
import { QemuHandle } from "./qemu-handle";
import { toVmSpec } from "./spec-mapping";

const SPEC_FILE = "launch-spec.json";

/** QEMU's user-mode network (slirp): every VM has one of its own, with these addresses. */
const USER_NETWORK: GuestNetwork = { guestIp: "10.0.2.15", prefixLength: 24, gateway: "10.0.2.2", dns: "10.0.2.3", forwardIp: HOST_FORWARD_IP };

/**
 * A spec stored by a serve whose devices had no slot field carried the slot as the digits ending
 * their ids (`disk2`, `share0`); read once here, so a VM launched then can still be snapshotted.
 */
function withSlots(spec: VmLaunchSpec): VmLaunchSpec {
  const slotOf = <T extends VmDisk | VmShare>(d: T): T => (typeof d.slot === "number" ? d : { ...d, slot: Number(/(\d+)$/.exec(d.id)?.[1] ?? 0) });
  return { ...spec, disks: spec.disks.map(slotOf), shares: spec.shares.map(slotOf) };
}

interface StoredSpec {
  spec: VmLaunchSpec;
  launchedAt: number;
  warm: boolean;
  confinement?: ConfinementRecord;
}

/** Options of the QEMU driver. */
export interface QemuDriverOptions {
  /** Serial console bytes kept per VM (console-log.ts). */
  consoleLogMaxBytes: number;
  /** What this host offers for confining QEMU (probed once at start). */
  confinement: HostConfinement;
  /** The installed QEMU's machine types and version (probed once at start). */
  qemu: QemuMachine;
  /** Where published ports are picked (null: from the ephemeral range only). */
  publishedPorts: PortRange | null;
  /** The operator named `publishedPorts`: no port outside it is ever picked, even when it is full. */
  publishedPortsNamed: boolean;
}

/** VmDriver on QEMU. */
export class QemuDriver implements VmDriver {
  constructor(private readonly opts: QemuDriverOptions) {}

  get machine(): SnapshotMachine {
    return { machineType: this.opts.qemu.type, qemuVersion: this.opts.qemu.qemuVersion };
  }

  restoreRefusal(recorded: SnapshotMachine): string | null {
    return restoreRefusal(recorded, this.opts.qemu);
  }

  readonly network = USER_NETWORK;

  readConsole(runDir: string, offset: number, limit: number): Promise<ConsoleSlice> {
    return readConsoleLog(vmPaths(runDir).serialLog, offset, limit);
  }

  isPortFree(port: number, protocol: "tcp" | "udp"): Promise<boolean> {
    return isPortFree(port, protocol);
  }

  pickFreePort(protocol: "tcp" | "udp", exclude: ReadonlySet<number>): Promise<number | null> {
    const range = this.opts.publishedPorts;
    return range && this.opts.publishedPortsNamed ? pickInRange(protocol, exclude, range) : pickFreePort(protocol, exclude, range);
  }

  capacity(ramDir: string): Promise<HostCapacity> {
    return hostCapacity(ramDir);
  }

  memory(): Promise<HostMemory> {
    return hostMemory();
  }

  async launch(spec: VmLaunchSpec): Promise<VmHandle> {
    const paths = vmPaths(spec.runDir);
    await prepareVmPaths(paths);
    await writeFile(paths.guestConfig, renderGuestConfig(spec.guest));
    const launchedAt = Date.now();
    const warm = spec.memory.kind === "snapshot";
    const confinement = await confineProcess(this.opts.confinement, { name: spec.uuid, runDir: spec.runDir, memoryMb: spec.memoryMb });
    let proc: VmProcess;
    let incomingFd: number | null = null;
    try {
      // QEMU reopens a disk it writes by name when a snapshot makes it a backing file: lend it the jail.
      if (confinement.jail) for (const d of spec.disks) if (!d.readonly) await lendFile(confinement.jail, d.path);
      await writeFile(join(spec.runDir, SPEC_FILE), JSON.stringify({ spec, launchedAt, warm, confinement: confinement.record } satisfies StoredSpec));
      const mode = spec.memory.kind === "snapshot"
        ? { kind: "restore" as const, ramPath: spec.memory.ramPath, devstatePath: spec.memory.devstatePath }
        : { kind: "boot" as const, hugePages: spec.memory.hugePages };
      const vmSpec = toVmSpec(spec, mode, { confine: confinement.runAs, sandbox: confinement.sandbox });
      incomingFd = incomingFdOf(vmSpec);
      proc = await VmProcess.launch(vmSpec, paths, { onSpawn: (pid) => confinement.enter(pid) });
    } catch (err) {
      await confinement.release();
      throw err;
    }
    const handle = new QemuHandle(proc, spec, launchedAt, warm, { consoleLogMaxBytes: spec.consoleLogMaxBytes ?? this.opts.consoleLogMaxBytes, host: this.opts.confinement, confinement });
    if (spec.memory.kind === "snapshot") {
      try {
        await proc.qmp.migrateSetCapabilities({ "x-ignore-shared": true });
        await proc.qmp.migrateIncoming(`fd:${incomingFd}`);
        await waitMigration(proc.qmp, completed, { timeoutMs: 60_000, what: "restore of the device state" });
        // Off again, so this VM can itself be snapshotted (branch of a branch).
        await proc.qmp.migrateSetCapabilities({ "x-ignore-shared": false });
        await proc.qmp.cont();
      } catch (err) {
        await handle.kill().catch(() => undefined);
        throw err;
      }
      // Its memory holds the source's freeze: thaw it now rather than when the freeze expires. Not
      // awaited: the guest runs meanwhile and only its writers wait for the thaw (a restored guest
      // takes a few hundred ms to answer under TCG, measured in docs/benchmarks.md). A guest that
      // does not answer thaws by itself (the freeze's deadline runs on in the branch).
      if (spec.memory.quiesced) void handle.thawGuest();
    }
    return handle;
  }

  async prepareRunDir(runDir: string): Promise<void> {
    await mkdir(runDir, { recursive: true });
  }

  removeRunDir(runDir: string): Promise<void> {
    return rm(runDir, { recursive: true, force: true });
  }

  runDirNames(root: string): Promise<string[]> {
    return readdir(root).catch(() => [] as string[]);
  }

  leftovers(runDir: string, owned: ReadonlySet<string>): Promise<VmLeftover[]> {
    return vmLeftovers(runDir, this.opts.confinement, owned);
  }

  async attach(uuid: string, runDir: string): Promise<VmHandle | null> {
    const stored = await readFile(join(runDir, SPEC_FILE), "utf8").then((t) => JSON.parse(t) as StoredSpec).catch(() => null);
    if (!stored) return null;
    const proc = await VmProcess.attach(vmPaths(runDir), { uuid });
    const record = stored.confinement ?? { uid: null, jail: null, cgroupDirs: [] };
    const confinement = adoptConfinement(this.opts.confinement, record, proc !== null);
    if (!proc) {
      // It ended while the service was away: undo what confined it.
      await confinement.release();
      return null;
    }
    const gid = this.opts.confinement.identities?.gid;
    const jail = record.uid !== null && gid !== undefined ? { root: jailRoot(runDir), uid: record.uid, gid } : null;
    // A VM launched before machine types were pinned runs as the alias, and its loaders must too.
    const spec = withSlots({ ...stored.spec, machineType: stored.spec.machineType ?? MACHINE_ALIAS });
    const handle = new QemuHandle(proc, spec, stored.launchedAt, stored.warm, {
      // The cap it was launched with (its control plane's), else this driver's.
      consoleLogMaxBytes: spec.consoleLogMaxBytes ?? this.opts.consoleLogMaxBytes,
      host: this.opts.confinement,
      confinement: { ...confinement, jail, runAs: jail ? { uid: jail.uid, gid: jail.gid, chroot: jail.root } : null },
    });
    // Jobs a dead serve left end here and the disks are flushed, before doctor judges the files.
    await handle.settleDisks().catch((err: Error) => process.stderr.write(`vmbranch: ${uuid}: could not settle the disks a previous serve left: ${err.message}\n`));
    return handle;
  }
}
