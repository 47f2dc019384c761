/**
 * The guest image system tests boot: `base` from the image store that `npm test` builds
 * (`$VMBRANCH_IMAGE_DIR`, else the repository's `.cache/images`), and the accelerator it runs under
 * on this host (detected once, cached in `.cache/vm-tests/`). Building the image is scripts/test's.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { BASE_IMAGE_NAME, IMAGE_DIR_ENV, openImage, type ImageFiles } from "../../backend/host/images";
import { detectAccelerator, type AccelVerdict } from "../../backend/host/qemu/probe";

const REPO = resolve(__dirname, "../..");

/** The image store tests use. */
export function testImageDir(): string {
  return process.env[IMAGE_DIR_ENV] || join(REPO, ".cache", "images");
}

/** The built `base` image; throws with the command that builds it when it is missing. */
export function baseImage(): ImageFiles {
  const dir = testImageDir();
  if (!existsSync(join(dir, BASE_IMAGE_NAME))) {
    throw new Error(`the base image is not built in ${dir}: run \`npm test\` or \`VMBRANCH_IMAGE_DIR=${dir} node dist/vmbranch.js image build base\``);
  }
  return openImage(dir, BASE_IMAGE_NAME);
}

let verdict: Promise<AccelVerdict> | null = null;

/** The accelerator of this host for the base image (probed once per host/QEMU/image, then cached). */
export function testAccelerator(): Promise<AccelVerdict> {
  if (!verdict) {
    const image = baseImage();
    verdict = detectAccelerator({
      image: { kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline, digest: image.manifest.digest },
      cacheFile: join(REPO, ".cache", "vm-tests", "accelerator.json"),
    });
  }
  return verdict;
}
