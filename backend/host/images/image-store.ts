/**
 * The local image store: a directory with one sub-directory per image (`<images>/<name>/` holding
 * the kernel, the initrd and manifest.json). Owns where the store is, listing it and resolving an
 * image name to the files QEMU boots. Building images is base-image-builder.ts; entries starting
 * with `.` are the builder's scratch space and download cache, never images.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { Image } from "vmbranch/sdk";
import { readManifest, type ImageManifest } from "./image-manifest";

/** Environment variable that overrides the image directory (shared by tests and CI). */
export const IMAGE_DIR_ENV = "VMBRANCH_IMAGE_DIR";

/** Thrown when an image name is unknown or its directory is unusable. */
export class ImageNotFoundError extends Error {
  override name = "ImageNotFoundError";
}

/** `$VMBRANCH_IMAGE_DIR` when set, otherwise `<dataDir>/images`. */
export function resolveImageDir(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[IMAGE_DIR_ENV];
  return path.resolve(fromEnv && fromEnv.length > 0 ? fromEnv : path.join(dataDir, "images"));
}

/** What QEMU needs to boot an image. */
export interface ImageFiles {
  name: string;
  dir: string;
  /** Absolute path of the uncompressed kernel (boot with `-kernel`). */
  kernel: string;
  /** Absolute path of the initramfs (boot with `-initrd`). */
  initrd: string;
  /** The command line the image was built for (`-append`). */
  cmdline: string;
  manifest: ImageManifest;
}

const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Resolves `name` in the store at `imageDir`; throws ImageNotFoundError when it is not a built image. */
export function openImage(imageDir: string, name: string): ImageFiles {
  if (!IMAGE_NAME.test(name)) throw new ImageNotFoundError(`invalid image name '${name}'`);
  const dir = path.join(imageDir, name);
  let manifest: ImageManifest | undefined;
  try {
    manifest = readManifest(dir);
  } catch (e) {
    throw new ImageNotFoundError(`image '${name}' is unusable: ${(e as Error).message}`);
  }
  if (!manifest) throw new ImageNotFoundError(`image '${name}' not found in ${imageDir} (build it with: vmbranch image build ${name})`);
  const kernel = path.join(dir, manifest.kernel.file);
  const initrd = path.join(dir, manifest.initrd.file);
  for (const f of [kernel, initrd]) if (!existsSync(f)) throw new ImageNotFoundError(`image '${name}' is missing ${path.basename(f)}`);
  return { name, dir, kernel, initrd, cmdline: manifest.kernel_cmdline, manifest };
}

/** The wire form of an image (sdk ImageSchema) from its manifest. */
export function imageSummary(m: ImageManifest): Image {
  return {
    name: m.name,
    digest: m.digest,
    kernel_version: m.kernel.version,
    features: [...m.features],
    size_bytes: m.kernel.size + m.initrd.size,
    created_at: m.created_at,
  };
}

/** Every usable image in the store, sorted by name; broken directories are skipped. */
export function listImages(imageDir: string): Image[] {
  if (!existsSync(imageDir)) return [];
  const out: Image[] = [];
  for (const ent of readdirSync(imageDir, { withFileTypes: true })) {
    if (!ent.isDirectory() || ent.name.startsWith(".")) continue;
    try {
      out.push(imageSummary(openImage(imageDir, ent.name).manifest));
    } catch {
      // Not an image (or a damaged one): listing must not fail because of it.
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
