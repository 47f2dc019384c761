/**
 * What the host offers core for virtual machines, independent of how (QEMU today). Core decides
 * when to start, stop, snapshot or restore; a driver does it on this host. A later control
 * plane drives many hosts through this same surface.
 */
import type { GuestConfig } from "./images/guest-protocol";

export type { GuestConfig, GuestMount } from "./images/guest-protocol";

/** A disk as the guest sees it. */
export interface VmDisk {
  /** Stable id (also used for QEMU node names). */
  id: string;
  /** Its device slot among the VM's volumes (the attachment's position): a restore needs the same. */
  slot: number;
  path: string;
  /** virtio serial the init finds the disk by (≤ 20 chars). */
  serial: string;
  readonly: boolean;
}

/** A host directory shared into the guest (managed volume). */
export interface VmShare {
  id: string;
  /** Its device slot among the VM's volumes (the attachment's position). */
  slot: number;
  tag: string;
  hostPath: string;
  readonly: boolean;
}

/** A host port forward. */
export interface VmForward {
  protocol: "tcp" | "udp";
  hostPort: number;
  guestPort: number;
}

/** Kernel, initrd and command line of an image. */
export interface BootImage {
  name: string;
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** Everything needed to launch a VM on this host. */
export interface VmLaunchSpec {
  uuid: string;
  name: string;
  /** Directory of this VM's runtime files (QMP socket, pidfile, serial log, guest config). */
  runDir: string;
  image: BootImage;
  memoryMb: number;
  vcpus: number;
  accelerator: "kvm" | "tcg";
  /** Versioned QEMU machine type: the pinned one for a cold boot, the snapshot's for a restore. */
  machineType: string;
  guest: GuestConfig;
  disks: VmDisk[];
  shares: VmShare[];
  mac: string;
  forwards: VmForward[];
  /**
   * Serial console bytes kept on disk before the oldest are rotated out (the operator's
   * `--console-log-max-mb`, decided by the control plane); the driver's own default when absent.
   */
  consoleLogMaxBytes?: number;
  /** The guest may open connections beyond the host (never to the host itself); false isolates it. */
  outboundNetwork: boolean;
  smbiosSerial: string;
  vmgenid: string;
  /**
   * The VM has the guest agent's channel (a device: a restore must match its snapshot). Absent in
   * specs of VMs launched before the agent existed, and in restores of their snapshots.
   */
  guestAgent?: boolean;
  /**
   * A cold boot on anonymous memory, or on 2 MiB huge pages of the host's pool (`hugePages`: the
   * operator's `--huge-pages`), or a warm start from a snapshot's RAM file and device state;
   * `quiesced`: the snapshot caught the guest with its volumes frozen, which the restore thaws.
   */
  memory: { kind: "boot"; hugePages?: boolean } | { kind: "snapshot"; ramPath: string; devstatePath: string; quiesced?: boolean };
}

/** How a VM ended. */
export interface VmExit {
  /** The guest app's exit code, when the init reported one. */
  exitCode: number | null;
  reason: string;
}

/** A disk to switch to a new overlay at a snapshot: the old file becomes the frozen point-in-time copy. */
export interface DiskFreeze {
  /** `VmDisk.id` of the disk. */
  diskId: string;
  /** A qcow2 overlay file already created over the disk's current file. */
  overlayPath: string;
}

/**
 * A live snapshot or disk freeze failed after some disks may have switched to their overlays.
 * Those disks are written through their overlays now: the caller must record their freeze and
 * keep the overlay files (roll forward). Overlays of other disks were never used and are removed
 * from QEMU; their files are the caller's to delete. Failures before any switch throw plain errors.
 */
export class DiskSwitchError extends Error {
  override name = "DiskSwitchError";
  constructor(
    message: string,
    /** `VmDisk.id`s whose overlay QEMU uses, or may use (it could not be asked). */
    readonly switched: readonly string[],
  ) {
    super(message);
  }
}

/** Where a memory snapshot is written. */
export interface SnapshotFiles {
  /** RAM image, mapped privately (copy-on-write) by VMs restored from it. */
  ramPath: string;
  /** Device state, loaded with the RAM image left in place (x-ignore-shared). */
  devstatePath: string;
}

/**
 * How a live snapshot switched the disks: `guest-frozen` — the guest agent froze every volume
 * being switched, the disks switched while the guest ran, and only QEMU's own capture paused it
 * (the snapshot's disk layers are clean filesystems, application-consistent as far as fsfreeze
 * goes); `paused` — the switch happened inside a pause of our own (no read-write disk needs it
 * too, as `none`, or the guest could not or would not freeze).
 */
export type DiskSwitch = "guest-frozen" | "paused" | "none";

/** How a live snapshot may use the guest agent: when it answers (`auto`), never (`off`). */
export type QuiesceMode = "auto" | "off";

/** A live snapshot whose point in time is fixed; the copy finishes in the background. */
export interface LiveSnapshot {
  /** How long the guest was paused. */
  pauseMs: number;
  /** How the disks switched (DiskSwitch). */
  diskSwitch: DiskSwitch;
  /** Why the guest agent was not used although disks switched (`paused`), in words; null otherwise. */
  quiesceSkipped: string | null;
  /**
   * With `guest-frozen`: from sending the freeze until the thaw was answered (host clock), the
   * longest writers in the guest waited; null otherwise.
   */
  frozenMs: number | null;
  takenAt: Date;
  /** Settles when the RAM image and device state are complete. */
  completed: Promise<void>;
  /**
   * Milliseconds the RAM copy should still take, at the pace QEMU has copied so far; null once
   * it ended, or before it has copied anything to judge by.
   */
  copyEta(): Promise<number | null>;
}

/** I/O counters of one disk since the VM started. */
export interface VmDiskStats {
  /** `VmDisk.id`. */
  diskId: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

/** Network counters of the VM's NIC in its current run; "in" is towards the guest. */
export interface VmNetStats {
  inFrames: number;
  inBytes: number;
  outFrames: number;
  outBytes: number;
  /** TCP connections opened towards the guest (SYNs into it). */
  inboundConnectionsOpened: number;
  /** TCP connections into the guest's published host ports established now. */
  inboundConnectionsOpen: number;
}

/** What a VM costs the host and moves, measured outside the guest. */
export interface VmStats {
  cpuTimeMs: number;
  rssBytes: number;
  pssBytes: number;
  disks: VmDiskStats[];
  net: VmNetStats;
}

/** Something QEMU reported about a live VM that its state must show: it stalled (and why) or runs again. */
export type VmAlert = { kind: "stalled"; reason: string } | { kind: "resumed" };

/** A running (or starting) VM. */
export interface VmHandle {
  readonly uuid: string;
  readonly pid: number;
  /** VM generation ID the guest was started with. */
  readonly vmgenid: string;
  /** The versioned machine type it runs as (a snapshot of it records this). */
  readonly machineType: string;
  /** It has the guest agent's channel (a device: a snapshot of it records this, so restores match). */
  readonly guestAgent: boolean;
  /** Settles when the VM process is gone. */
  readonly exited: Promise<VmExit>;
  /** Resolves with the boot time once the guest prints its ready marker; rejects if it exits first. */
  ready(timeoutMs: number): Promise<{ bootTimeMs: number }>;
  /** Ask the guest to power off (ACPI). */
  powerdown(): Promise<void>;
  /** End the VM now and wait until its process is gone. */
  kill(): Promise<void>;
  /** Stop watching the VM and close its control connection; the VM keeps running (service shutdown). */
  detach(): void;
  /** Publish or withdraw a host port forward while running. */
  addForward(f: VmForward): Promise<void>;
  removeForward(f: VmForward): Promise<void>;
  /**
   * Copy-on-write snapshot of RAM, device state and `disks` at one instant (the guest pauses for
   * milliseconds, its disks switch to the given overlays); the RAM copy completes in the background.
   * With `quiesce` `auto` (the default) the guest agent freezes the volumes first, so the disks
   * switch while the guest runs and only QEMU's capture pauses it; a guest that cannot or does
   * not answer is paused for the switch instead (`LiveSnapshot.diskSwitch` says which).
   */
  snapshot(disks: DiskFreeze[], files: SnapshotFiles, quiesce?: QuiesceMode): Promise<LiveSnapshot>;
  /** Ask the guest agent to thaw the guest's volumes (after a restore of a quiesced snapshot); false when it did not answer. */
  thawGuest(): Promise<boolean>;
  /** Switch `disks` to new overlays while running (crash-consistent per disk), without a memory snapshot. */
  freezeDisks(disks: DiskFreeze[]): Promise<void>;
  /** Copy the whole backing chain of a disk into its top file while the VM runs, so it stands alone. */
  flattenDisk(diskId: string): Promise<void>;
  /** End block jobs left in the VM and flush every disk, so its files say on disk what QEMU holds. */
  settleDisks(): Promise<void>;
  /** Call `listener` when the VM stalls on its own (disk full, I/O error, guest panic) or runs again. */
  onAlert(listener: (alert: VmAlert) => void): void;
  /** Resume the guest (after a pause of ours that a crash interrupted); checked against QEMU's run state. */
  resume(): Promise<void>;
  /** Take an overlay this VM does not use (left by an interrupted snapshot) out of QEMU and its jail. */
  discardOverlay(path: string): Promise<void>;
  /** QEMU's run state (`running`, `paused`, `io-error`, `guest-panicked`, …). */
  runState(): Promise<string>;
  /** The file each disk is written through now (they move with every freeze). */
  diskFiles(): Promise<{ diskId: string; path: string }[]>;
  /** Pause the VM, save its whole state to `files`, and end the process (suspend to standby). */
  saveAndQuit(files: SnapshotFiles): Promise<void>;
  /** Current counters (CPU, memory, disk and network I/O); `hostPorts` are its published host ports. */
  stats(hostPorts: readonly number[]): Promise<VmStats>;
}

/** The machine a memory snapshot was taken on: it loads only where that machine is offered. */
export interface SnapshotMachine {
  /** Versioned machine type, e.g. `pc-i440fx-10.0`. */
  machineType: string;
  /** Version of the hypervisor that wrote the snapshot, e.g. `10.0.2`. */
  qemuVersion: string;
}

/** Something a QEMU process of this data dir left that nobody owns (a loader of a dead serve, a VM of no instance). */
export interface VmLeftover {
  /** `confinement`: the cgroup directory or the jail's lent files of a VM that has ended. */
  kind: "loader" | "unowned-vm" | "confinement";
  /** What it is, in words (for doctor's report). */
  what: string;
  pid: number | null;
  /** End its process and remove its files. */
  remove(): Promise<void>;
}

/** The network every guest has (user-mode networking: each VM its own, the same addresses in all). */
export interface GuestNetwork {
  /** The guest's address and prefix length. */
  guestIp: string;
  prefixLength: number;
  gateway: string;
  dns: string;
  /** The host address published ports are forwarded from. */
  forwardIp: string;
}

/** A slice of a VM's console output. `offset` may be later than asked when older output was rotated out. */
export interface ConsoleSlice {
  output: Buffer;
  offset: number;
  nextOffset: number;
  /** The oldest byte still kept. */
  first: number;
  /** Total bytes ever written. */
  size: number;
}

/** The size of the huge pages a boot's RAM is kept in (`hugePages`), in MiB: the kernel's `hugepages-2048kB` pool. */
export const HUGE_PAGE_MB = 2;

/** Free capacity in MiB; null where it cannot be read. */
export interface HostCapacity {
  memoryAvailableMb: number | null;
  ramDirFreeMb: number | null;
  /** Free 2 MiB huge pages, in MiB; absent from agents older than huge pages, null where the kernel has no pool. */
  hugePagesFreeMb?: number | null;
}

/** The host's memory in MiB (MemTotal, MemAvailable); null where it cannot be read. */
export interface HostMemory {
  totalMb: number | null;
  availableMb: number | null;
}

/** Launches and finds VMs on this host. */
export interface VmDriver {
  /** The guests' network. */
  readonly network: GuestNetwork;
  /** At most `limit` bytes of the console output of the VM whose run directory is `runDir`, from `offset` (negative: from the end). */
  readConsole(runDir: string, offset: number, limit: number): Promise<ConsoleSlice>;
  /** True when host port `port` can be published now. */
  isPortFree(port: number, protocol: "tcp" | "udp"): Promise<boolean>;
  /** A free host port for publishing, not in `exclude`; null when the range the operator named for them is full. */
  pickFreePort(protocol: "tcp" | "udp", exclude: ReadonlySet<number>): Promise<number | null>;
  /** Free host memory and space in the RAM directory `ramDir`. */
  capacity(ramDir: string): Promise<HostCapacity>;
  /** The host's total and available memory, for its heartbeat. */
  memory(): Promise<HostMemory>;
  /** The machine new VMs are launched as (pinned, versioned) on this host. */
  readonly machine: SnapshotMachine;
  /** Why a memory snapshot taken on `recorded` cannot be restored here, or null when it can. */
  restoreRefusal(recorded: SnapshotMachine): string | null;
  /** Start a VM (cold boot or warm from a snapshot); resolves once its process runs. */
  launch(spec: VmLaunchSpec): Promise<VmHandle>;
  /** Find the VM of `uuid` after a restart of the service; null when its process is gone. */
  attach(uuid: string, runDir: string): Promise<VmHandle | null>;
  /** Make the run directory of a VM if it is missing; it stays across starts (the console log is there). */
  prepareRunDir(runDir: string): Promise<void>;
  /** Remove the run directory of a VM that is gone, with what is in it; a missing one is fine. */
  removeRunDir(runDir: string): Promise<void>;
  /** The names of the entries of `root`, where each VM has its run directory (named by its uuid); none when `root` is missing. */
  runDirNames(root: string): Promise<string[]>;
  /** Leftovers in run directory `runDir` (loaders not in use, VMs of instances not in `owned`). */
  leftovers(runDir: string, owned: ReadonlySet<string>): Promise<VmLeftover[]>;
}
