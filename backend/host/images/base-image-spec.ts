/**
 * What the default guest image `base` is made of: the Debian packages, the kernel modules and
 * their load groups, and the kernel command line QEMU should boot it with. Changing anything here
 * changes the build inputs (image-manifest.ts), so the next `vmbranch image build` rebuilds.
 */
import type { ModuleGroupSpec } from "./module-plan";

/** Name of the default image. */
export const BASE_IMAGE_NAME = "base";

/** Bump when the builder's output changes for the same packages and guest files. */
export const BUILDER_VERSION = 2;

/** Meta package whose dependency names the generic kernel (not `-cloud-`: it lacks vmgenid and 9p). */
export const KERNEL_META_PACKAGE = "linux-image-amd64";
/** The versioned package `linux-image-amd64` depends on, e.g. linux-image-6.1.0-56-amd64. */
export const KERNEL_PACKAGE_PATTERN = /^linux-image-\d+\.\d+\.\d+-\d+-amd64$/;
/** Provides /bin/busybox (static): the guest's whole userland. */
export const BUSYBOX_PACKAGE = "busybox-static";

/**
 * Module load groups, in the order the init loads them. `core` is loaded at every boot;
 * `fs-<fstype>` only when a volume of that type is mounted (the init runs `load_group fs-$fstype`),
 * which keeps ext4 and 9p off the boot path of guests without volumes.
 */
export const BASE_MODULE_GROUPS: ModuleGroupSpec[] = [
  {
    name: "core",
    modules: [
      "qemu_fw_cfg", // the configuration arrives through fw_cfg
      "virtio_pci",
      "virtio_blk",
      "virtio_net",
      "virtio_rng", // seeds the RNG early when the host gives a virtio-rng device
      "button", // ACPI power button → evdev → acpid → graceful stop
      "evdev",
    ],
  },
  // ext4 asks for crc32c at mount time through the crypto API; there is no modprobe in the guest.
  { name: "fs-ext4", modules: ["ext4", "crc32c_generic"] },
  { name: "fs-9p", modules: ["9p", "9pnet_virtio"] },
];

/**
 * Kernel command line for booting `base` under QEMU. The QEMU runtime should use this (or the
 * image manifest's `kernel_cmdline`, which records it), adding only what it must. Measured under
 * TCG on 2 cores, boot to the ready marker (median of 7): 2.79 s with only the first three
 * options, 2.26 s with all of them and signature-stripped modules.
 */
export const DEFAULT_KERNEL_CMDLINE = [
  "console=ttyS0",
  "quiet", // every console line costs time on an emulated UART
  "panic=-1", // reboot at once on panic; QEMU runs with -no-reboot, so the process exits
  "cryptomgr.notests", // crypto self-tests: ~0.3 s under TCG
  "initcall_blacklist=crypto_kdf108_init", // only runs the SP800-108 KDF self-test: ~0.15 s
  // Skips write-protecting kernel text/rodata and the W+X page-table scan that comes with it
  // (~0.13 s). A deliberate trade: this is hardening inside a single-application guest.
  "rodata=off",
  "no_timer_check", // the IO-APIC timer check is pointless on QEMU's emulated chipset
  "tsc=reliable", // no clocksource watchdog against the TSC
].join(" ");
