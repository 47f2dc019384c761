/**
 * Turns an unpacked Debian kernel package into what the image boots: the uncompressed `vmlinux`
 * (QEMU boots that ELF directly through PVH, which saves the ~4 s an xz-compressed bzImage costs
 * to decompress under TCG) and the feature list read from the kernel's build configuration.
 * Owns locating the kernel files in the package tree; downloading is debian-packages.ts.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { run } from "../util/exec";

/** xz stream magic: the compressed payload of a bzImage built with CONFIG_KERNEL_XZ. */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** The kernel files inside an unpacked linux-image package. */
export interface KernelTree {
  /** `uname -r` of the kernel, e.g. `6.1.0-56-amd64`. */
  version: string;
  bzImage: string;
  config: string;
  /** `lib/modules/<version>`. */
  modulesDir: string;
}

/** Finds the single kernel in an unpacked linux-image package rooted at `root`. */
export function locateKernel(root: string): KernelTree {
  const boot = path.join(root, "boot");
  const images = existsSync(boot) ? readdirSync(boot).filter((f) => f.startsWith("vmlinuz-")) : [];
  if (images.length !== 1) throw new Error(`expected one boot/vmlinuz-* in the kernel package, found ${images.length}`);
  const version = images[0]!.slice("vmlinuz-".length);
  // usrmerge packages put modules under usr/lib; bookworm's still use lib.
  const modulesDir = [path.join(root, "lib/modules", version), path.join(root, "usr/lib/modules", version)].find((d) => existsSync(d));
  if (!modulesDir) throw new Error(`kernel package has no modules directory for ${version}`);
  return { version, bzImage: path.join(boot, images[0]!), config: path.join(boot, `config-${version}`), modulesDir };
}

/**
 * Writes the uncompressed kernel ELF embedded in `bzImagePath` to `outPath`, using `xz`
 * (busybox unxz cannot undo the x86 BCJ filter the kernel uses). Tries each xz magic in turn in
 * case the bytes also occur before the real payload.
 */
export async function extractVmlinux(bzImagePath: string, outPath: string): Promise<void> {
  const image = readFileSync(bzImagePath);
  let lastError: unknown = new Error(`${bzImagePath}: no xz-compressed payload (is CONFIG_KERNEL_XZ set?)`);
  for (let at = image.indexOf(XZ_MAGIC); at >= 0; at = image.indexOf(XZ_MAGIC, at + 1)) {
    try {
      // --single-stream: the bzImage carries trailing data after the payload.
      await run("xz", ["-dc", "--single-stream"], { input: image.subarray(at), stdoutFile: outPath });
      if (await startsWithElfMagic(outPath)) return;
      lastError = new Error(`${bzImagePath}: payload at ${at} is not an ELF kernel`);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

async function startsWithElfMagic(file: string): Promise<boolean> {
  const fh = await open(file, "r");
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.readUInt32BE(0) === 0x7f454c46;
  } finally {
    await fh.close();
  }
}

/** Parses a kernel `.config` into option → value (`y`, `m`, or the literal), skipping unset options. */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Image features and the kernel options each needs (all of them, built in or as a module). */
export const FEATURE_OPTIONS: Record<string, { builtIn?: string[]; any?: string[] }> = {
  // The guest reseeds its RNG when a branch gets a new VM generation ID (docs/architecture.md, "The platform").
  vmgenid: { builtIn: ["CONFIG_VMGENID"] },
  // QEMU boots the uncompressed vmlinux through the PVH entry point.
  pvh: { builtIn: ["CONFIG_PVH"] },
  "9p": { any: ["CONFIG_NET_9P", "CONFIG_NET_9P_VIRTIO", "CONFIG_9P_FS"] },
  ext4: { any: ["CONFIG_EXT4_FS"] },
  "virtio-blk": { any: ["CONFIG_VIRTIO_BLK"] },
  "virtio-net": { any: ["CONFIG_VIRTIO_NET"] },
  "acpi-power-button": { any: ["CONFIG_ACPI_BUTTON", "CONFIG_INPUT_EVDEV"] },
};

/** The features (sorted) whose options `config` satisfies. */
export function kernelFeatures(config: Map<string, string>): string[] {
  return Object.entries(FEATURE_OPTIONS)
    .filter(([, need]) => (need.builtIn ?? []).every((o) => config.get(o) === "y") && (need.any ?? []).every((o) => config.get(o) === "y" || config.get(o) === "m"))
    .map(([feature]) => feature)
    .sort();
}
