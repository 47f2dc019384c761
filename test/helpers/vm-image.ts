/**
 * The guest image system tests boot: `base` from the image store that `npm test` builds
 * (`$VMBRANCH_IMAGE_DIR`, else the repository's `.cache/images`), and the accelerator it runs under
 * on this host (detected once, cached in `.cache/vm-tests/`). `npm test` builds the image first;
 * when a system test runs alone on a fresh checkout, the image is built here (once).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { BASE_IMAGE_NAME, buildBaseImage, IMAGE_DIR_ENV, openImage, type ImageFiles } from "../../backend/host/images";
import { detectAccelerator, type AccelVerdict } from "../../backend/host/qemu/accel-probe";

const REPO = resolve(__dirname, "../..");

/** The image store tests use. */
export function testImageDir(): string {
  return process.env[IMAGE_DIR_ENV] || join(REPO, ".cache", "images");
}

let image: Promise<ImageFiles> | null = null;

/** The `base` image, built first when the store does not have it yet. */
export function baseImage(): Promise<ImageFiles> {
  if (!image) {
    const dir = testImageDir();
    image = (async () => {
      if (!existsSync(join(dir, BASE_IMAGE_NAME, "manifest.json"))) await buildBaseImage({ imageDir: dir });
      return openImage(dir, BASE_IMAGE_NAME);
    })();
  }
  return image;
}

let verdict: Promise<AccelVerdict> | null = null;

/** The accelerator of this host for the base image (probed once per host/QEMU/image, then cached). */
export function testAccelerator(): Promise<AccelVerdict> {
  if (!verdict) {
    verdict = baseImage().then((img) =>
      detectAccelerator({
        image: { kernel: img.kernel, initrd: img.initrd, cmdline: img.cmdline, digest: img.manifest.digest },
        cacheFile: join(REPO, ".cache", "vm-tests", "accelerator.json"),
      }),
    );
  }
  return verdict;
}
