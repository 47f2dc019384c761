// Manifest, build cache key and image store on temp directories (no apt, no QEMU).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ImageSchema } from "vmbranch/sdk";
import { BASE_MODULE_GROUPS, BUILDER_VERSION, DEFAULT_KERNEL_CMDLINE } from "../../backend/host/images/base-image-spec";
import { canonicalJson, imageDigest, inputsHash, isBuildCurrent, ManifestError, MANIFEST_FORMAT, readManifest, validateManifest, type BuildInputs, type ImageManifest } from "../../backend/host/images/image-manifest";
import { ImageNotFoundError, listImages, openImage, resolveImageDir } from "../../backend/host/images/image-store";

const inputs: BuildInputs = {
  builder_version: BUILDER_VERSION,
  packages: [
    { name: "linux-image-6.1.0-56-amd64", version: "6.1.192-2" },
    { name: "busybox-static", version: "1:1.35.0-4+deb12u1+b1" },
  ],
  guest_files_sha256: "a".repeat(64),
  module_groups: BASE_MODULE_GROUPS,
  kernel_cmdline: DEFAULT_KERNEL_CMDLINE,
};

function manifestFor(name: string, hash: string, sizes = { kernel: 4, initrd: 3 }): ImageManifest {
  return {
    format: MANIFEST_FORMAT,
    name,
    digest: imageDigest("1".repeat(64), "2".repeat(64), DEFAULT_KERNEL_CMDLINE),
    kernel: { file: "vmlinux", sha256: "1".repeat(64), size: sizes.kernel, version: "6.1.0-56-amd64", boot: "pvh" },
    initrd: { file: "initrd", sha256: "2".repeat(64), size: sizes.initrd, format: "newc" },
    kernel_cmdline: DEFAULT_KERNEL_CMDLINE,
    packages: inputs.packages,
    features: ["9p", "vmgenid"],
    modules: [],
    inputs,
    inputs_hash: hash,
    builder_version: BUILDER_VERSION,
    created_at: "2026-01-01T00:00:00.000Z",
  };
}

let store: string;
beforeEach(() => {
  store = mkdtempSync(path.join(os.tmpdir(), "vmbranch-images-"));
});
afterEach(() => rmSync(store, { recursive: true, force: true }));

function writeImage(name: string, m: ImageManifest, files = { vmlinux: "kern", initrd: "ini" }): string {
  const dir = path.join(store, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(m));
  for (const [f, body] of Object.entries(files)) writeFileSync(path.join(dir, f), body);
  return dir;
}

describe("build cache key", () => {
  it("is stable under key order and package order", () => {
    const reordered = { kernel_cmdline: inputs.kernel_cmdline, module_groups: inputs.module_groups, packages: [...inputs.packages].reverse(), guest_files_sha256: inputs.guest_files_sha256, builder_version: inputs.builder_version };
    expect(inputsHash(reordered)).toBe(inputsHash(inputs));
    expect(inputsHash(inputs)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ["a package version", { packages: [{ name: "linux-image-6.1.0-56-amd64", version: "6.1.193-1" }, inputs.packages[1]!] }],
    ["the guest files", { guest_files_sha256: "b".repeat(64) }],
    ["the builder version", { builder_version: BUILDER_VERSION + 1 }],
    ["the command line", { kernel_cmdline: DEFAULT_KERNEL_CMDLINE + " x" }],
    ["the module groups", { module_groups: [{ name: "core", modules: ["virtio_pci"] }] }],
  ])("changes with %s", (_what, patch) => {
    expect(inputsHash({ ...inputs, ...patch })).not.toBe(inputsHash(inputs));
  });

  it("canonical JSON sorts keys at every depth and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: 2 } })).toBe('{"a":{"c":2,"d":[3,1]},"b":1}');
  });

  it("digests change with any of kernel, initrd and command line", () => {
    const d = imageDigest("1", "2", "c");
    expect(d).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(new Set([d, imageDigest("x", "2", "c"), imageDigest("1", "x", "c"), imageDigest("1", "2", "x")]).size).toBe(4);
  });
});

describe("isBuildCurrent", () => {
  const hash = inputsHash(inputs);

  it("is true for a matching hash with intact files", () => {
    const dir = writeImage("base", manifestFor("base", hash));
    expect(isBuildCurrent(dir, hash)).toBe(true);
  });

  it("is false for another hash, a missing image, a truncated file or a broken manifest", () => {
    const dir = writeImage("base", manifestFor("base", hash));
    expect(isBuildCurrent(dir, "0".repeat(64))).toBe(false);
    expect(isBuildCurrent(path.join(store, "none"), hash)).toBe(false);
    writeFileSync(path.join(dir, "initrd"), "i");
    expect(isBuildCurrent(dir, hash)).toBe(false);
    writeFileSync(path.join(dir, "manifest.json"), "{not json");
    expect(isBuildCurrent(dir, hash)).toBe(false);
  });
});

describe("manifest validation", () => {
  it("accepts a manifest it wrote and reads it back", () => {
    const dir = writeImage("base", manifestFor("base", "h"));
    expect(readManifest(dir)).toEqual(manifestFor("base", "h"));
    expect(readManifest(path.join(store, "none"))).toBeUndefined();
  });

  it.each([
    ["another format", { format: 2 }],
    ["no kernel", { kernel: undefined }],
    ["a bad hash", { initrd: { file: "initrd", sha256: "xyz", size: 1, format: "newc" } }],
    ["a file outside the image", { kernel: { file: "../../etc/passwd", sha256: "1".repeat(64), size: 1, version: "v", boot: "pvh" } }],
    ["no features", { features: undefined }],
  ])("rejects %s", (_what, patch) => {
    expect(() => validateManifest({ ...manifestFor("base", "h"), ...patch })).toThrow(ManifestError);
  });
});

describe("image store", () => {
  it("resolves $VMBRANCH_IMAGE_DIR first, then <data-dir>/images", () => {
    expect(resolveImageDir("/data", { VMBRANCH_IMAGE_DIR: "/shared/images" })).toBe("/shared/images");
    expect(resolveImageDir("/data", { VMBRANCH_IMAGE_DIR: "" })).toBe("/data/images");
    expect(resolveImageDir("/data", {})).toBe("/data/images");
  });

  it("opens an image to the files QEMU boots", () => {
    writeImage("base", manifestFor("base", "h"));
    const img = openImage(store, "base");
    expect(img.kernel).toBe(path.join(store, "base", "vmlinux"));
    expect(img.initrd).toBe(path.join(store, "base", "initrd"));
    expect(img.cmdline).toBe(DEFAULT_KERNEL_CMDLINE);
  });

  it("reports unknown, invalid and incomplete images", () => {
    expect(() => openImage(store, "base")).toThrow(/vmbranch image build base/);
    expect(() => openImage(store, "../etc")).toThrow(ImageNotFoundError);
    writeImage("half", manifestFor("half", "h"), { vmlinux: "kern", initrd: "" });
    rmSync(path.join(store, "half", "initrd"));
    expect(() => openImage(store, "half")).toThrow(/missing initrd/);
  });

  it("lists usable images in wire form, skipping scratch and broken directories", () => {
    writeImage("base", manifestFor("base", "h"));
    writeImage("zeta", manifestFor("zeta", "h"));
    mkdirSync(path.join(store, ".build-base-x"));
    mkdirSync(path.join(store, "junk"));
    writeFileSync(path.join(store, "junk", "manifest.json"), "[]");
    const images = listImages(store);
    expect(images.map((i) => i.name)).toEqual(["base", "zeta"]);
    expect(ImageSchema.parse(images[0])).toEqual({ name: "base", digest: manifestFor("base", "h").digest, kernel_version: "6.1.0-56-amd64", features: ["9p", "vmgenid"], size_bytes: 7, created_at: "2026-01-01T00:00:00.000Z" });
    expect(listImages(path.join(store, "absent"))).toEqual([]);
  });
});
