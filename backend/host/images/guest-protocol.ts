/**
 * The contract between the host and the init of our guest images: how an instance's
 * configuration reaches the guest (a shell-sourceable file in fw_cfg) and the markers the init
 * prints on the serial console. The host renders the file; the init (guest/init) reads it.
 */

/** fw_cfg entry name that carries the rendered configuration (`-fw_cfg name=…,file=…`). */
export const GUEST_CONFIG_FW_CFG_NAME = "opt/vmbranch/config";

/**
 * Printed once the main process (`args`) has been started: the instance is ready. From then on an
 * ACPI power-off (QMP `system_powerdown`) stops it gracefully; before it, a power-off may be lost
 * (the power button is not wired up yet), so the host should fall back to killing QEMU.
 */
export const READY_MARKER = "VMBRANCH-READY";
/** Printed as `VMBRANCH-EXIT <code>` when the main process ends, before the guest powers off. */
export const EXIT_MARKER = "VMBRANCH-EXIT";
/** Printed as `VMBRANCH-ERROR <what>: <reason>` when the init cannot honour the configuration. */
export const ERROR_MARKER = "VMBRANCH-ERROR";

/**
 * Exit codes the init reports as `VMBRANCH-EXIT <code>` when it fails before or around the main
 * process (always after a `VMBRANCH-ERROR` line). Chosen above the shell's 126/127 and the
 * 128+signal range so they cannot be mistaken for an application's own status.
 */
export const INIT_EXIT_CODES = {
  /** The configuration in fw_cfg exists but could not be sourced. */
  configInvalid: 250,
  /** A volume could not be found, mounted or chowned. */
  mountFailed: 251,
  /** The network could not be configured. */
  networkFailed: 252,
} as const;

/** Default `msize` (bytes) for virtio-9p mounts: large enough for good throughput under TCG. */
export const DEFAULT_9P_MSIZE = 512 * 1024;

/** A block volume, found in the guest by its virtio serial (never by probe order). */
export interface GuestBlockMount {
  kind: "block";
  /** virtio-blk serial, at most 20 characters. */
  serial: string;
  at: string;
  readonly: boolean;
  fstype: string;
}

/** A managed volume: a host directory shared over virtio-9p, found by its mount tag. */
export interface GuestShareMount {
  kind: "9p";
  /** virtio-9p mount_tag, at most 31 characters. */
  tag: string;
  at: string;
  readonly: boolean;
  uid: number;
  gid: number;
  /** 9p message size in bytes; DEFAULT_9P_MSIZE when absent. */
  msize?: number;
}

export type GuestMount = GuestBlockMount | GuestShareMount;

/** Everything the init needs to run an instance. */
export interface GuestConfig {
  hostname: string;
  /** Main process; empty means the init idles until powered off. */
  args: string[];
  env: Record<string, string>;
  mounts: GuestMount[];
  /**
   * Static addressing on QEMU user-mode networking: `address` as `a.b.c.d/prefix` (a bare address
   * means /24). Applied only when the guest has a NIC.
   */
  network: { address: string; gateway: string; dns: string } | null;
}

/**
 * The guest agent (guest/agent, /sbin/vmbranch-agent): freezes and thaws the guest's mounted
 * volumes around a live snapshot, so the disks can switch to their overlays while the guest runs
 * and only QEMU's own capture pauses it. It talks on the second ISA serial port rather than
 * virtio-serial: the kernel has the 8250 driver built in (no module, no PCI slot taken from
 * hot-plug, nothing for udev to name), and qemu-guest-agent offers the same transport (`-m isa-serial`).
 */
export const AGENT_TTY = "ttyS1";
/** First word of every line the agent writes. */
export const AGENT_PREFIX = "vmbranch-agent";
/** Protocol version the agent reports to `ping`. */
export const AGENT_VERSION = 1;
/** Longest freeze the agent accepts, in seconds; it thaws by itself after the one it was given. */
export const AGENT_MAX_FREEZE_S = 60;
