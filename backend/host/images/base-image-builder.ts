/**
 * Builds the default guest image `base` into the image store: Debian kernel + busybox-static +
 * our init, as `vmlinux`, `initrd` and `manifest.json`. Cached (same inputs → no work at all) and
 * atomic (built in a scratch directory, then renamed into place, so a failed build leaves nothing
 * half-made). Owns the build sequence; each step's details live in the modules it calls.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BASE_IMAGE_NAME, BASE_MODULE_GROUPS, BUILDER_VERSION, BUSYBOX_PACKAGE, DEFAULT_KERNEL_CMDLINE, KERNEL_META_PACKAGE, KERNEL_PACKAGE_PATTERN } from "./base-image-spec";
import { withBuildLock } from "./build-lock";
import { writeNewcArchive } from "./cpio-newc";
import { downloadPackage, extractPackage, PackageResolveError, pruneDownloads } from "./debian-packages";
import { guestFilesHash, loadGuestFiles, type GuestFile } from "./guest-files";
import { imageDigest, inputsHash, isBuildCurrent, MANIFEST_FILE, MANIFEST_FORMAT, readManifest, type BuildInputs, type ImageManifest } from "./image-manifest";
import { initramfsEntries, parseBusyboxApplets } from "./initramfs-layout";
import { extractVmlinux, kernelFeatures, locateKernel, parseKernelConfig } from "./kernel-image";
import { stripModuleSignature } from "./kernel-modinfo";
import { moduleTreeLookup, planModuleGroups } from "./module-plan";
import { resolvePackages } from "./package-resolution";
import { run } from "../util/exec";

/** Options for buildBaseImage. */
export interface BuildImageOptions {
  /** The image store directory (see resolveImageDir). */
  imageDir: string;
  /** Rebuild even when the inputs are unchanged. */
  force?: boolean;
  /** Progress lines for humans. */
  log?: (line: string) => void;
}

/** Outcome of a build. */
export interface BuildImageResult {
  /** True when the image was already up to date and nothing was done. */
  cached: boolean;
  dir: string;
  manifest: ImageManifest;
}

/** Where downloaded packages are kept between builds, inside the image store. */
export function downloadCacheDir(imageDir: string): string {
  return path.join(imageDir, ".cache", "debs");
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Where the last answer from apt is remembered (see package-resolution.ts). */
export function resolutionCacheFile(imageDir: string): string {
  return path.join(imageDir, ".cache", "apt-resolution.json");
}

/** Resolves the build inputs from apt (or its remembered answer) and the guest files. */
export async function resolveBaseInputs(guestFiles: GuestFile[], imageDir: string): Promise<BuildInputs> {
  const query = { metaPackage: KERNEL_META_PACKAGE, metaPattern: KERNEL_PACKAGE_PATTERN, others: [BUSYBOX_PACKAGE] };
  const packages = await resolvePackages(query, resolutionCacheFile(imageDir));
  return {
    builder_version: BUILDER_VERSION,
    packages,
    guest_files_sha256: guestFilesHash(guestFiles),
    module_groups: BASE_MODULE_GROUPS,
    kernel_cmdline: DEFAULT_KERNEL_CMDLINE,
  };
}

/**
 * Builds `base` into `opts.imageDir` unless an image built from the same inputs is there. When
 * apt cannot resolve the inputs (no package lists, offline) an existing image is kept with a
 * warning; without one the PackageResolveError propagates.
 */
export async function buildBaseImage(opts: BuildImageOptions): Promise<BuildImageResult> {
  const log = opts.log ?? (() => {});
  const dir = path.join(opts.imageDir, BASE_IMAGE_NAME);
  const guestFiles = loadGuestFiles();
  let inputs: BuildInputs;
  try {
    inputs = await resolveBaseInputs(guestFiles, opts.imageDir);
  } catch (e) {
    const existing = e instanceof PackageResolveError && !opts.force ? safeManifest(dir) : undefined;
    if (!existing) throw e;
    log(`warning: ${(e as Error).message}; keeping the existing image`);
    return { cached: true, dir, manifest: existing };
  }
  const hash = inputsHash(inputs);
  const current = () => !opts.force && isBuildCurrent(dir, hash);
  if (current()) return { cached: true, dir, manifest: readManifest(dir)! };

  mkdirSync(opts.imageDir, { recursive: true });
  return withBuildLock(
    path.join(opts.imageDir, `.${BASE_IMAGE_NAME}.lock`),
    async () => {
      // Another process may have built it while we waited for the lock.
      if (current()) return { cached: true, dir, manifest: readManifest(dir)! };
      removeScratch(opts.imageDir, BASE_IMAGE_NAME);
      const manifest = await buildInto(opts.imageDir, dir, inputs, hash, guestFiles, log);
      pruneDownloads(downloadCacheDir(opts.imageDir), inputs.packages);
      return { cached: false, dir, manifest };
    },
    { onWait: () => log("waiting for another build of this image to finish") },
  );
}

function safeManifest(dir: string): ImageManifest | undefined {
  try {
    return readManifest(dir);
  } catch {
    return undefined;
  }
}

/** Removes scratch directories of builds that died (`.build-<name>-*`); we hold the lock. */
function removeScratch(imageDir: string, name: string): void {
  for (const f of readdirSync(imageDir)) {
    if (f.startsWith(`.build-${name}-`)) rmSync(path.join(imageDir, f), { recursive: true, force: true });
  }
}

async function buildInto(imageDir: string, dir: string, inputs: BuildInputs, hash: string, guestFiles: GuestFile[], log: (l: string) => void): Promise<ImageManifest> {
  const work = mkdtempSync(path.join(imageDir, `.build-${BASE_IMAGE_NAME}-`));
  try {
    const pins = new Map(inputs.packages.map((p) => [p.name === BUSYBOX_PACKAGE ? "busybox" : "kernel", p] as const));
    const kernelPin = pins.get("kernel")!;
    const busyboxPin = pins.get("busybox")!;
    log(`downloading ${inputs.packages.map((p) => `${p.name} ${p.version}`).join(", ")}`);
    const [kernelDeb, busyboxDeb] = await Promise.all([kernelPin, busyboxPin].map((p) => downloadPackage(p, downloadCacheDir(imageDir))));
    log("unpacking packages");
    const kernelRoot = path.join(work, "kernel-pkg");
    const busyboxRoot = path.join(work, "busybox-pkg");
    await Promise.all([extractPackage(kernelDeb!, kernelRoot), extractPackage(busyboxDeb!, busyboxRoot)]);

    const out = path.join(work, "image");
    mkdirSync(out);
    const kernel = locateKernel(kernelRoot);
    log(`extracting vmlinux from ${path.basename(kernel.bzImage)}`);
    const vmlinux = extractVmlinux(kernel.bzImage, path.join(out, "vmlinux"));

    const lookup = moduleTreeLookup(kernel.modulesDir);
    const moduleGroups = planModuleGroups(inputs.module_groups, lookup);
    const modules = new Map(moduleGroups.flatMap((g) => g.levels.flat()).map((name) => [name, stripModuleSignature(readFileSync(lookup(name)!.file))] as const));
    const busyboxBin = path.join(busyboxRoot, "bin", "busybox");
    const applets = parseBusyboxApplets(await run(busyboxBin, ["--list-full"]));
    const release = { kernel: kernel.version, kernel_package: `${kernelPin.name}=${kernelPin.version}`, busybox: busyboxPin.version, inputs_hash: hash };
    const initrd = writeNewcArchive(initramfsEntries({ busybox: readFileSync(busyboxBin), applets, guestFiles, modules, moduleGroups, release }));
    writeFileSync(path.join(out, "initrd"), initrd);
    log(`initramfs: ${modules.size} modules, ${applets.length} applets, ${(initrd.length / 1048576).toFixed(1)} MiB`);
    await vmlinux;

    const kernelBytes = readFileSync(path.join(out, "vmlinux"));
    const kernelSha = sha256(kernelBytes);
    const initrdSha = sha256(initrd);
    const manifest: ImageManifest = {
      format: MANIFEST_FORMAT,
      name: BASE_IMAGE_NAME,
      digest: imageDigest(kernelSha, initrdSha, inputs.kernel_cmdline),
      kernel: { file: "vmlinux", sha256: kernelSha, size: kernelBytes.length, version: kernel.version, boot: "pvh" },
      initrd: { file: "initrd", sha256: initrdSha, size: initrd.length, format: "newc" },
      kernel_cmdline: inputs.kernel_cmdline,
      packages: inputs.packages,
      features: kernelFeatures(parseKernelConfig(readFileSync(kernel.config, "utf8"))),
      modules: moduleGroups,
      inputs,
      inputs_hash: hash,
      builder_version: BUILDER_VERSION,
      created_at: new Date().toISOString(),
    };
    writeFileSync(path.join(out, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    swapInto(out, dir, work);
    log(`built image ${BASE_IMAGE_NAME} (${manifest.digest.slice(0, 19)}…) in ${dir}`);
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Replaces `dir` with `ready` by renames: readers see the old image or the new one, never a mix. */
function swapInto(ready: string, dir: string, work: string): void {
  if (!existsSync(dir)) {
    renameSync(ready, dir);
    return;
  }
  const old = path.join(work, "old");
  renameSync(dir, old);
  try {
    renameSync(ready, dir);
  } catch (e) {
    renameSync(old, dir);
    throw e;
  }
}
