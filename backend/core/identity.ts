/**
 * Identifiers and identities: UUIDs, generated names, MAC addresses, SMBIOS serials, VM
 * generation IDs and disk serials. Pure apart from randomness.
 */
import { randomBytes, randomUUID } from "node:crypto";

/** A new resource UUID. */
export function newUuid(): string {
  return randomUUID();
}

const WORDS = ["amber", "brisk", "cedar", "delta", "ember", "fjord", "gale", "harbor", "iris", "juniper", "kestrel", "lumen", "maple", "north", "onyx", "pine", "quartz", "river", "sierra", "tundra"];

/** A readable generated name like `cedar-3f9a2c` with a kind prefix when given. */
export function generateName(prefix?: string): string {
  const word = WORDS[randomBytes(1)[0]! % WORDS.length]!;
  const suffix = randomBytes(3).toString("hex");
  return prefix ? `${prefix}-${word}-${suffix}` : `${word}-${suffix}`;
}

/** A locally administered unicast MAC (02:…), the kind QEMU guests get when none is given. */
export function newMac(): string {
  const b = randomBytes(5);
  return ["02", ...[...b].map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/** A fresh SMBIOS system serial. */
export function newSmbiosSerial(): string {
  return `vmb-${randomBytes(8).toString("hex")}`;
}

/** The virtio serial of a volume's disk: the first 20 hex digits of its UUID (virtio's limit is 20). */
export function diskSerial(volumeUuid: string): string {
  return volumeUuid.replace(/-/g, "").slice(0, 20);
}

/**
 * The VM's id of the disk in device slot `position` (QEMU node names, freezes, the journal): ids
 * are opaque to the driver, which takes the slot from its own field.
 */
export function diskIdOf(position: number): string {
  return `disk${position}`;
}

/** The 9p mount tag of a managed volume (virtio-9p allows 31 characters). */
export function shareTag(volumeUuid: string): string {
  return `vmb${volumeUuid.replace(/-/g, "").slice(0, 28)}`;
}

/** Now, as the API writes timestamps. */
export function now(): string {
  return new Date().toISOString();
}

/** This serve's run, in names of scratch files it makes (a sweep after a crash removes other runs'). */
export const SERVE_RUN = randomBytes(4).toString("hex");

/** Prefix of an import's scratch directory in the temp dir. */
export const IMPORT_DIR_PREFIX = "import-";
