/**
 * Registry of the filesystems a block volume can be formatted with. ext4 is the default; the
 * operator may only pick from what is registered here (reference: "Custom filesystems").
 */
import type { FilesystemKind } from "../storage-driver";

/** How to make and mount one filesystem: what core sees of it, and the `mke2fs -t <type>` type. */
export interface FilesystemDriver extends FilesystemKind {
  mkfsType: string;
}

const DRIVERS: readonly FilesystemDriver[] = [
  { name: "ext4", mkfsType: "ext4", guestFstype: "ext4" },
  { name: "ext3", mkfsType: "ext3", guestFstype: "ext4" },
  { name: "ext2", mkfsType: "ext2", guestFstype: "ext4" },
];

/** The default filesystem of new block volumes. */
export const DEFAULT_FILESYSTEM = "ext4";

/** The driver registered under `name`, or null. */
export function filesystemDriver(name: string): FilesystemDriver | null {
  return DRIVERS.find((d) => d.name === name) ?? null;
}

/** Names of all registered filesystems. */
export function registeredFilesystems(): string[] {
  return DRIVERS.map((d) => d.name);
}
