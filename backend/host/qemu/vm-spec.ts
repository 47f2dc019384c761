/**
 * What one QEMU process should be: identity, accelerator, memory backend, boot image, disks,
 * shares, network and how it starts (cold, paused, or waiting for an incoming migration). Owns the
 * shape and validation of a spec; turning it into arguments is command-line.ts, choosing its values
 * (ports, MACs, serials, snapshot files) is the caller's. Every path must be absolute: QEMU
 * runs with / as its working directory (and may be confined to a jail).
 */
import { HUGE_PAGE_MB } from "../vm-driver";

/** How guest code runs: hardware virtualization or QEMU's translator. */
export type Accelerator = "kvm" | "tcg";

/** The size of a huge page guests' RAM can be kept in, in bytes. */
export const HUGE_PAGE_BYTES = HUGE_PAGE_MB * 1024 * 1024;

/**
 * Where guest RAM lives. `anonymous` and `huge-pages` (2 MiB pages of the host's reserved pool) for
 * a cold boot; `shared-file` maps a file MAP_SHARED (a loader writing a snapshot's RAM image);
 * `private-file` maps a frozen RAM file copy-on-write (a branch): it is opened read-only and never
 * written.
 */
export type MemoryBackendSpec = { kind: "anonymous" } | { kind: "huge-pages" } | { kind: "shared-file"; path: string } | { kind: "private-file"; path: string };

/** A qcow2 disk on virtio-blk. */
export interface DiskSpec {
  /** Stable id; QEMU node names and the device id derive from it (vm-devices.ts). */
  id: string;
  /** Absolute path of the qcow2 file. */
  file: string;
  readonly: boolean;
  /** virtio serial the guest finds the disk by, at most 20 characters. */
  serial: string;
  /** PCI slot; assigned deterministically when absent (vm-devices.ts `assignPciSlots`). */
  pciSlot?: number;
  /**
   * Open without image locking: only for a VM that never runs (a snapshot loader) and reads a
   * file another VM has open read-write.
   */
  unlocked?: boolean;
}

/** A host directory shared over virtio-9p. */
export interface ShareSpec {
  id: string;
  /** Absolute host directory. */
  path: string;
  /** 9p mount tag, at most 31 characters. */
  tag: string;
  readonly: boolean;
  pciSlot?: number;
}

/** One user-mode host port forward: hostAddress:hostPort on the host → guestPort in the guest. */
export interface ForwardSpec {
  protocol: "tcp" | "udp";
  hostPort: number;
  guestPort: number;
  /** Default 127.0.0.1. */
  hostAddress?: string;
}

/** The single NIC `eth0` on QEMU user-mode networking. */
export interface NicSpec {
  mac: string;
  forwards: ForwardSpec[];
  /**
   * Files QEMU records the NIC's traffic in (frame headers only) for the host's counters: frames
   * into the guest and out of it. Absent: not recorded (loaders, old launch specs).
   */
  trafficDumps?: { toGuest: string; fromGuest: string };
  /**
   * The guest may not open connections anywhere (QEMU's `restrict=on`); forwards from the host
   * still reach it. Default false.
   */
  restrict?: boolean;
}

/** What QEMU becomes once initialised (`-run-with`): every file on its command line is open by then. */
export interface ConfineSpec {
  /** Drop to this uid and gid (and no other groups). */
  uid: number;
  gid: number;
  /** chroot into this directory. */
  chroot: string;
}

/** Everything that decides the QEMU command line of one VM. */
export interface VmSpec {
  /** Instance UUID: `-name vmbranch-<uuid>` (how leftovers are found) and `-uuid`. */
  uuid: string;
  /** SMBIOS type 1 serial number. */
  smbiosSerial: string;
  /** VM generation ID GUID; a branch gets a new one so the guest reseeds its RNG. */
  vmgenid: string;
  accel: Accelerator;
  /** Versioned machine type (machine-types.ts), e.g. `pc-i440fx-10.0`; a restore uses its snapshot's. */
  machineType: string;
  /** TCG translation cache bound in MiB (ignored under KVM); default DEFAULT_TCG_TB_SIZE_MB. */
  tcgTbSizeMb?: number;
  vcpus: number;
  memoryMb: number;
  memory: MemoryBackendSpec;
  /** Absolute path of an uncompressed `vmlinux` ELF with a PVH note. */
  kernel: string;
  initrd: string;
  cmdline: string;
  disks: DiskSpec[];
  shares: ShareSpec[];
  nic: NicSpec | null;
  /**
   * The guest agent's serial port (the second ISA serial, guest-protocol.ts `AGENT_TTY`): on a
   * socket the host connects to (`socket`), present but connected to nothing (`null`: a loader,
   * which must have its source's devices but never runs), or absent (`none`: VMs launched before
   * the agent, and restores of their snapshots, whose device set must match). Default `none`.
   */
  agentChannel?: "socket" | "null" | "none";
  /**
   * `defer`: wait for `migrate-incoming` (a snapshot loader); `file`: the same, and this device
   * state file is handed to QEMU open (vm-launch.ts), for a `migrate-incoming fd:N` it can read
   * whatever user it runs as by then.
   */
  incoming: "none" | "defer" | { file: string };
  /** Start with vCPUs stopped (`-S`) until `cont`. */
  startPaused: boolean;
  /** Confine QEMU once initialised; absent or null runs it as started. */
  confine?: ConfineSpec | null;
  /** Turn on QEMU's seccomp filter (`-sandbox`). */
  sandbox?: boolean;
}

/** Default TCG translation cache: bounds RSS per VM at a small boot-time cost (see command-line.ts). */
export const DEFAULT_TCG_TB_SIZE_MB = 32;

/** A spec QEMU would reject or misread; the message names the field. */
export class VmSpecError extends Error {
  override name = "VmSpecError";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
// Serials, tags and ids reach sysfs, mount(8) and QEMU option strings: keep them plain.
const PLAIN = /^[A-Za-z0-9._-]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function fail(msg: string): never {
  throw new VmSpecError(msg);
}

function checkPath(what: string, p: string): void {
  if (!p.startsWith("/")) fail(`${what} must be an absolute path: '${p}'`);
  if (/[\0\n\r]/.test(p)) fail(`${what} contains a NUL or newline`);
}

function checkInt(what: string, n: number, min: number, max: number): void {
  if (!Number.isInteger(n) || n < min || n > max) fail(`${what} must be an integer in ${min}..${max}, got ${n}`);
}

/** Checks a spec for everything QEMU would reject or misread; throws VmSpecError. */
export function validateVmSpec(spec: VmSpec): void {
  if (!UUID.test(spec.uuid)) fail(`uuid is not a UUID: '${spec.uuid}'`);
  if (!UUID.test(spec.vmgenid)) fail(`vmgenid is not a GUID: '${spec.vmgenid}'`);
  if (!PLAIN.test(spec.smbiosSerial) || spec.smbiosSerial.length > 64) fail(`smbiosSerial must be 1..64 of [A-Za-z0-9._-]: '${spec.smbiosSerial}'`);
  if (spec.accel !== "kvm" && spec.accel !== "tcg") fail(`accel must be kvm or tcg, got '${String(spec.accel)}'`);
  if (typeof spec.machineType !== "string" || !PLAIN.test(spec.machineType)) fail(`machineType must be a plain QEMU machine type name, got '${String(spec.machineType)}'`);
  if (spec.tcgTbSizeMb !== undefined) checkInt("tcgTbSizeMb", spec.tcgTbSizeMb, 1, 4096);
  checkInt("vcpus", spec.vcpus, 1, 64);
  checkInt("memoryMb", spec.memoryMb, 16, 1024 * 1024);
  if (spec.memory.kind === "huge-pages" && (spec.memoryMb * 1024 * 1024) % HUGE_PAGE_BYTES !== 0) fail(`memoryMb must be a whole number of huge pages for huge-page memory, got ${spec.memoryMb}`);
  if (spec.memory.kind === "shared-file" || spec.memory.kind === "private-file") checkPath("memory.path", spec.memory.path);
  checkPath("kernel", spec.kernel);
  checkPath("initrd", spec.initrd);
  if (/[\0]/.test(spec.cmdline)) fail("cmdline contains a NUL byte");
  const ids = new Set<string>();
  const slots = new Set<number>();
  const unique = (kind: string, id: string, slot?: number) => {
    if (!PLAIN.test(id) || id.length > 64) fail(`${kind} id must be 1..64 of [A-Za-z0-9._-]: '${id}'`);
    if (ids.has(id)) fail(`duplicate device id '${id}'`);
    ids.add(id);
    if (slot === undefined) return;
    checkInt(`${kind} '${id}' pciSlot`, slot, FIRST_FREE_PCI_SLOT, LAST_PCI_SLOT);
    if (slots.has(slot)) fail(`PCI slot ${slot} used twice`);
    slots.add(slot);
  };
  const serials = new Set<string>();
  for (const d of spec.disks) {
    unique("disk", d.id, d.pciSlot);
    checkPath(`disk '${d.id}' file`, d.file);
    if (!PLAIN.test(d.serial) || d.serial.length > 20) fail(`disk '${d.id}' serial must be 1..20 of [A-Za-z0-9._-]: '${d.serial}'`);
    if (serials.has(d.serial)) fail(`duplicate disk serial '${d.serial}'`);
    serials.add(d.serial);
  }
  const tags = new Set<string>();
  for (const s of spec.shares) {
    unique("share", s.id, s.pciSlot);
    checkPath(`share '${s.id}' path`, s.path);
    if (!PLAIN.test(s.tag) || s.tag.length > 31) fail(`share '${s.id}' tag must be 1..31 of [A-Za-z0-9._-]: '${s.tag}'`);
    if (tags.has(s.tag)) fail(`duplicate 9p mount tag '${s.tag}'`);
    tags.add(s.tag);
  }
  if (spec.nic) {
    if (!MAC.test(spec.nic.mac)) fail(`nic mac is not a MAC address: '${spec.nic.mac}'`);
    // Bit 0 of the first octet marks multicast; a NIC needs a unicast address.
    if (parseInt(spec.nic.mac.slice(0, 2), 16) & 1) fail(`nic mac must be unicast: '${spec.nic.mac}'`);
    if (spec.nic.trafficDumps) {
      checkPath("nic trafficDumps.toGuest", spec.nic.trafficDumps.toGuest);
      checkPath("nic trafficDumps.fromGuest", spec.nic.trafficDumps.fromGuest);
    }
    const seen = new Set<string>();
    for (const f of spec.nic.forwards) {
      if (f.protocol !== "tcp" && f.protocol !== "udp") fail(`forward protocol must be tcp or udp, got '${String(f.protocol)}'`);
      checkInt("forward hostPort", f.hostPort, 1, 65535);
      checkInt("forward guestPort", f.guestPort, 1, 65535);
      if (f.hostAddress !== undefined && !IPV4.test(f.hostAddress)) fail(`forward hostAddress is not IPv4: '${f.hostAddress}'`);
      const key = `${f.protocol}:${f.hostAddress ?? ""}:${f.hostPort}`;
      if (seen.has(key)) fail(`host port ${f.protocol}/${f.hostPort} forwarded twice`);
      seen.add(key);
    }
  }
  if (typeof spec.incoming === "object") checkPath("incoming file", spec.incoming.file);
  else if (spec.incoming !== "none" && spec.incoming !== "defer") fail(`incoming must be none, defer or a file, got '${String(spec.incoming)}'`);
  if (spec.confine) {
    checkInt("confine uid", spec.confine.uid, 1, 4294967294);
    checkInt("confine gid", spec.confine.gid, 1, 4294967294);
    checkPath("confine chroot", spec.confine.chroot);
  }
}

/** First PCI slot left for disks and shares on `-M pc` (0 host bridge, 1 PIIX3, 2 eth0, 3 virtio-rng). */
export const FIRST_FREE_PCI_SLOT = 4;
/** Last PCI slot of the root bus. */
export const LAST_PCI_SLOT = 31;
