/**
 * The device model of a vmbranch VM: stable QEMU names derived from disk and share ids, PCI slot
 * assignment, and the exact `-blockdev`/`-device` objects for disks, shares and the NIC. The
 * command line (command-line.ts) and run-time hot-plug (QMP blockdev-add/device_add) both build
 * from these functions, so a disk plugged at run time looks exactly like one given at boot, and a
 * branch started with the source's current disk list has the source's device layout (migration
 * requires identical devices at identical addresses). Choosing which disks exist is the caller's.
 */
import { createHash } from "node:crypto";
import type { BlockdevOptionsQcow2, DeviceAddOptions } from "./qmp/types";
import { FIRST_FREE_PCI_SLOT, LAST_PCI_SLOT, VmSpecError, type DiskSpec, type NicSpec, type ShareSpec, type VmSpec } from "./vm-spec";

/** Device id of the NIC (the guest names it eth0 too). */
export const NIC_DEVICE_ID = "eth0";
/** User-mode netdev id (HMP `hostfwd_add` addresses it). */
export const NETDEV_ID = "net0";
/** PCI slot of the NIC. */
export const NIC_PCI_SLOT = 2;
/** PCI slot of the virtio RNG (present in every VM, so the device set never depends on options). */
export const RNG_PCI_SLOT = 3;
/** Root PCI bus of `-M pc`. */
export const ROOT_BUS = "pci.0";
/** Memory backend object id; a branch must use the same id (the RAM block is named after it). */
export const RAM_BACKEND_ID = "ram0";

// QEMU node names are at most 31 characters: short ids are used as they are, long ones hashed
// (the "." cannot occur in a short id, so a hashed name never collides with a plain one).
const SHORT_ID = /^[A-Za-z][A-Za-z0-9_-]{0,19}$/;

function base(id: string): string {
  return SHORT_ID.test(id) ? id : "h." + createHash("sha256").update(id).digest("hex").slice(0, 16);
}

/** QEMU names of a disk: format node (what the device uses), its file node, and the device id. */
export function diskNames(diskId: string): { node: string; fileNode: string; deviceId: string } {
  const b = base(diskId);
  return { node: `drv-${b}`, fileNode: `drv-${b}-f`, deviceId: `vd-${b}` };
}

/** QEMU names of a share: fsdev id and device id. */
export function shareNames(shareId: string): { fsdev: string; deviceId: string } {
  const b = base(shareId);
  return { fsdev: `fs-${b}`, deviceId: `9p-${b}` };
}

/**
 * PCI slot of every disk and share: the given `pciSlot` where set, otherwise the lowest free slot
 * in list order (disks, then shares). Deterministic for a given spec. Throws when slots run out.
 */
export function assignPciSlots(spec: Pick<VmSpec, "disks" | "shares">): Map<string, number> {
  const slots = new Map<string, number>();
  const used = new Set<number>();
  const all: (DiskSpec | ShareSpec)[] = [...spec.disks, ...spec.shares];
  for (const d of all) if (d.pciSlot !== undefined) used.add(d.pciSlot);
  for (const d of all) {
    if (d.pciSlot !== undefined) {
      slots.set(d.id, d.pciSlot);
      continue;
    }
    const slot = freePciSlot(used);
    used.add(slot);
    slots.set(d.id, slot);
  }
  return slots;
}

/** The lowest PCI slot not in `used` (for a hot-plug); throws VmSpecError when none is left. */
export function freePciSlot(used: ReadonlySet<number>): number {
  for (let s = FIRST_FREE_PCI_SLOT; s <= LAST_PCI_SLOT; s++) if (!used.has(s)) return s;
  throw new VmSpecError(`no free PCI slot (at most ${LAST_PCI_SLOT - FIRST_FREE_PCI_SLOT + 1} disks and shares)`);
}

/** `addr` property for slot `slot`. */
export function pciAddr(slot: number): string {
  return `0x${slot.toString(16)}`;
}

/** The blockdev (qcow2 over file) of a disk, for `-blockdev` and QMP `blockdev-add` alike. */
export function diskBlockdev(disk: DiskSpec): BlockdevOptionsQcow2 {
  const n = diskNames(disk.id);
  return {
    driver: "qcow2",
    "node-name": n.node,
    "read-only": disk.readonly,
    // Guest TRIM gives space back to the host file.
    discard: "unmap",
    // The backing chain (frozen snapshots) opens read-only from the image header.
    file: {
      driver: "file", "node-name": n.fileNode, filename: disk.file, "read-only": disk.readonly, discard: "unmap",
      ...(disk.unlocked ? { locking: "off" as const } : {}),
    },
  };
}

/** The virtio-blk device of a disk in slot `slot`, for `-device` and QMP `device_add` alike. */
export function diskDevice(disk: DiskSpec, slot: number): DeviceAddOptions {
  const n = diskNames(disk.id);
  return { driver: "virtio-blk-pci", id: n.deviceId, drive: n.node, serial: disk.serial, bus: ROOT_BUS, addr: pciAddr(slot) };
}

/** The virtio-9p device of a share in slot `slot`. */
export function shareDevice(share: ShareSpec, slot: number): DeviceAddOptions {
  const n = shareNames(share.id);
  return { driver: "virtio-9p-pci", id: n.deviceId, fsdev: n.fsdev, mount_tag: share.tag, bus: ROOT_BUS, addr: pciAddr(slot) };
}

/** The NIC device. */
export function nicDevice(nic: NicSpec): DeviceAddOptions {
  // romfile="": no iPXE option ROM, we never network-boot and SeaBIOS skips loading it.
  return { driver: "virtio-net-pci", id: NIC_DEVICE_ID, netdev: NETDEV_ID, mac: nic.mac.toLowerCase(), bus: ROOT_BUS, addr: pciAddr(NIC_PCI_SLOT), romfile: "" };
}

/** The virtio RNG: the guest seeds its entropy pool from the host at boot instead of waiting for jitter. */
export function rngDevice(): DeviceAddOptions {
  return { driver: "virtio-rng-pci", id: "rng0", bus: ROOT_BUS, addr: pciAddr(RNG_PCI_SLOT) };
}

/**
 * Bytes of each frame QEMU's traffic dumps keep: enough for the IPv4 and TCP headers (the host
 * counts inbound connections by their SYNs); each record also carries the frame's full length.
 */
export const TRAFFIC_SNAP_BYTES = 64;

/**
 * The `-object` JSON of the NIC's traffic dumps. A netfilter's `tx` queue carries what the netdev
 * sends (frames into the guest), its `rx` queue what the netdev receives (frames from the guest).
 */
export function trafficDumpObjects(dumps: { toGuest: string; fromGuest: string }): Record<string, unknown>[] {
  return [
    { "qom-type": "filter-dump", id: "traffic-in", netdev: NETDEV_ID, queue: "tx", file: dumps.toGuest, maxlen: TRAFFIC_SNAP_BYTES },
    { "qom-type": "filter-dump", id: "traffic-out", netdev: NETDEV_ID, queue: "rx", file: dumps.fromGuest, maxlen: TRAFFIC_SNAP_BYTES },
  ];
}

/** A forward in `hostfwd` syntax (`tcp:127.0.0.1:8080-:80`), for `-netdev` and HMP `hostfwd_add`. */
export function hostfwdRule(f: { protocol: "tcp" | "udp"; hostPort: number; guestPort: number; hostAddress?: string }): string {
  return `${f.protocol}:${f.hostAddress ?? "127.0.0.1"}:${f.hostPort}-:${f.guestPort}`;
}

/** The host side of a forward (`tcp:127.0.0.1:8080`), as HMP `hostfwd_remove` names it. */
export function hostfwdRemoveRule(f: { protocol: "tcp" | "udp"; hostPort: number; hostAddress?: string }): string {
  return `${f.protocol}:${f.hostAddress ?? "127.0.0.1"}:${f.hostPort}`;
}
