/**
 * Turn the driver-neutral launch spec (vm-driver.ts) into the QEMU runtime's VmSpec. Device
 * slots follow attachment positions, so a branch or restore has exactly its source's layout
 * (migration requires identical devices).
 */
import { trafficFiles } from "../metrics/traffic-counter";
import type { VmLaunchSpec } from "../vm-driver";
import { DEFAULT_TCG_TB_SIZE_MB, FIRST_FREE_PCI_SLOT, type ConfineSpec, type MemoryBackendSpec, type VmSpec } from "../qemu/vm-spec";

/** How the VM of a launch spec starts. */
export type StartMode =
  /** A cold boot; `hugePages`: its RAM in 2 MiB pages of the host's pool. */
  | { kind: "boot"; hugePages?: boolean }
  /** Restore: map a RAM image privately and load the device state saved beside it. */
  | { kind: "restore"; ramPath: string; devstatePath: string }
  /** A loader that receives a snapshot into a shared RAM file and never runs. */
  | { kind: "loader"; ramPath: string; disks: { id: string; file: string }[] };

/** Slot of the device at attachment `position` (the NIC and RNG have fixed slots below). */
export function slotOf(position: number): number {
  return FIRST_FREE_PCI_SLOT + position;
}


/** How the process is confined (confinement.ts decides). */
export interface ProcessLimits {
  confine: ConfineSpec | null;
  sandbox: boolean;
}

/** The QEMU spec of `spec` started as `mode`. */
export function toVmSpec(spec: VmLaunchSpec, mode: StartMode, limits: ProcessLimits, uuid = spec.uuid): VmSpec {
  const memory: MemoryBackendSpec =
    mode.kind === "boot"
      ? { kind: mode.hugePages ? "huge-pages" : "anonymous" }
      : mode.kind === "restore" ? { kind: "private-file", path: mode.ramPath } : { kind: "shared-file", path: mode.ramPath };
  const disks = spec.disks.map((d) => {
    const current = mode.kind === "loader" ? mode.disks.find((x) => x.id === d.id)?.file : undefined;
    return {
      id: d.id,
      file: current ?? d.path,
      // The loader reads files the running source holds; it never writes or runs.
      readonly: mode.kind === "loader" ? true : d.readonly,
      unlocked: mode.kind === "loader",
      serial: d.serial,
      pciSlot: slotOf(d.slot),
    };
  });
  return {
    uuid,
    smbiosSerial: spec.smbiosSerial,
    vmgenid: spec.vmgenid,
    accel: spec.accelerator,
    machineType: spec.machineType,
    tcgTbSizeMb: DEFAULT_TCG_TB_SIZE_MB,
    vcpus: spec.vcpus,
    memoryMb: spec.memoryMb,
    memory,
    kernel: spec.image.kernel,
    initrd: spec.image.initrd,
    cmdline: spec.image.cmdline,
    disks,
    shares: spec.shares.map((s) => ({ id: s.id, path: s.hostPath, tag: s.tag, readonly: s.readonly, pciSlot: slotOf(s.slot) })),
    // A loader must not bind the source's host ports; forwards are not part of the device state.
    // Neither is the network's reach, so a loader never reaches anywhere.
    nic: {
      mac: spec.mac,
      forwards: mode.kind === "loader" ? [] : spec.forwards.map((f) => ({ protocol: f.protocol, hostPort: f.hostPort, guestPort: f.guestPort })),
      restrict: mode.kind === "loader" || !spec.outboundNetwork,
      // A loader never runs the guest: nothing to count.
      ...(mode.kind === "loader" ? {} : { trafficDumps: trafficFiles(spec.runDir) }),
    },
    // A loader has its source's devices but never runs: its agent port leads nowhere.
    agentChannel: !spec.guestAgent ? "none" : mode.kind === "loader" ? "null" : "socket",
    incoming: mode.kind === "boot" ? "none" : mode.kind === "restore" ? { file: mode.devstatePath } : "defer",
    startPaused: mode.kind !== "boot",
    confine: limits.confine,
    sandbox: limits.sandbox,
  };
}
