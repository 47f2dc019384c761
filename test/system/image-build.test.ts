// `vmbranch image build base` for real (apt, dpkg-deb, xz) into the shared image store, then the
// user-visible cache behaviour: a second build does nothing (output says so, files untouched), and
// a failed build leaves nothing half-made. Runs the CLI in-process through its registry.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ImageSchema } from "vmbranch/sdk";
import type { CliContext } from "../../backend/cli/command-registry";
import { buildRegistry } from "../../backend/cli/main";
import { DEFAULT_KERNEL_CMDLINE } from "../../backend/host/images/base-image-spec";
import { downloadCacheDir } from "../../backend/host/images/base-image-builder";
import { debFileName } from "../../backend/host/images/debian-packages";
import { readManifest } from "../../backend/host/images/image-manifest";

jest.setTimeout(600_000);

const REPO = path.resolve(__dirname, "../..");
const IMAGE_DIR = process.env.VMBRANCH_IMAGE_DIR || path.join(REPO, ".cache/images");

async function cli(argv: string[], env: NodeJS.ProcessEnv = { ...process.env, VMBRANCH_IMAGE_DIR: IMAGE_DIR }) {
  const ctx: CliContext & { out: string; err: string } = { out: "", err: "", env, stdout: (t) => void (ctx.out += t), stderr: (t) => void (ctx.err += t) };
  const code = await buildRegistry().dispatch(argv, ctx);
  return { code, out: ctx.out, err: ctx.err };
}

const sha256File = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, { mtimeMs: statSync(path.join(dir, f)).mtimeMs, ino: statSync(path.join(dir, f)).ino }]));

describe("vmbranch image build base", () => {
  const dir = path.join(IMAGE_DIR, "base");

  it("builds (or has built) a bootable image with a complete manifest", async () => {
    const res = await cli(["image", "build", "base"]);
    expect(res).toMatchObject({ code: 0 });
    expect(res.out).toMatch(/^image base (built|is up to date \(cached\), nothing to do): kernel \S+, sha256:[0-9a-f]{64}, /);

    const m = readManifest(dir)!;
    expect(m.kernel.version).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
    expect(m.kernel.sha256).toBe(sha256File(path.join(dir, "vmlinux")));
    expect(m.initrd.sha256).toBe(sha256File(path.join(dir, "initrd")));
    // The uncompressed kernel ELF, booted through PVH.
    expect(readFileSync(path.join(dir, "vmlinux")).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(m.features).toEqual(expect.arrayContaining(["vmgenid", "9p", "pvh", "ext4"]));
    expect(m.packages.map((p) => p.name)).toEqual([`linux-image-${m.kernel.version}`, "busybox-static"]);
    expect(m.kernel_cmdline).toBe(DEFAULT_KERNEL_CMDLINE);
    expect(m.inputs_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Number.isNaN(Date.parse(m.created_at))).toBe(false);
    const core = m.modules.find((g) => g.name === "core")!.levels.flat();
    expect(core).toEqual(expect.arrayContaining(["virtio_pci", "virtio_blk", "virtio_net", "qemu_fw_cfg", "button", "evdev", "virtio_rng"]));
    expect(core.indexOf("virtio_ring")).toBeLessThan(core.indexOf("virtio"));
    // No scratch directory or lock left behind.
    expect(readdirSync(IMAGE_DIR).filter((f) => f.startsWith(".build-") || f.endsWith(".lock"))).toEqual([]);
  });

  it("does nothing the second time: says cached and leaves every file untouched", async () => {
    const before = snapshot(dir);
    const manifestBefore = readFileSync(path.join(dir, "manifest.json"), "utf8");
    const res = await cli(["image", "build"]);
    expect(res.code).toBe(0);
    expect(res.out).toContain("is up to date (cached), nothing to do");
    expect(res.err).not.toContain("downloading");
    expect(readFileSync(path.join(dir, "manifest.json"), "utf8")).toBe(manifestBefore);
    expect(snapshot(dir)).toEqual(before);
  });

  it("lists the image", async () => {
    const table = await cli(["image", "ls"]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^base\s+\d+\.\d+\.\d+-\d+-amd64\s+sha256:[0-9a-f]{12}\s+\d+\.\d MiB\s+\S*vmgenid/m);
    const json = await cli(["image", "ls", "--json"]);
    const images = (JSON.parse(json.out) as unknown[]).map((i) => ImageSchema.parse(i));
    expect(images.find((i) => i.name === "base")!.digest).toBe(readManifest(dir)!.digest);
  });

  describe("a failed build", () => {
    let store: string;
    beforeEach(() => {
      store = mkdtempSync(path.join(os.tmpdir(), "vmbranch-image-build-"));
    });
    afterEach(() => rmSync(store, { recursive: true, force: true }));

    /** Poisons the download cache of `imageDir` with unreadable .debs of exactly the pinned versions. */
    function poisonDownloads(imageDir: string) {
      const m = readManifest(dir)!;
      mkdirSync(downloadCacheDir(imageDir), { recursive: true });
      for (const pin of m.packages) writeFileSync(path.join(downloadCacheDir(imageDir), debFileName(pin)), "not a deb");
    }

    it("leaves no image, scratch directory or lock", async () => {
      poisonDownloads(path.join(store, "images"));
      const res = await cli(["image", "build", "--data-dir", store], { ...process.env, VMBRANCH_IMAGE_DIR: "" });
      expect(res.code).toBe(1);
      expect(res.err).toMatch(/dpkg-deb/);
      const images = path.join(store, "images");
      expect(readdirSync(images)).toEqual([".cache"]);
    });

    it("keeps the previous image intact when a forced rebuild fails", async () => {
      cpSync(dir, path.join(store, "base"), { recursive: true });
      const before = readFileSync(path.join(store, "base", "manifest.json"), "utf8");
      poisonDownloads(store);
      const res = await cli(["image", "build", "--force"], { ...process.env, VMBRANCH_IMAGE_DIR: store });
      expect(res.code).toBe(1);
      expect(readFileSync(path.join(store, "base", "manifest.json"), "utf8")).toBe(before);
      expect(existsSync(path.join(store, "base", "vmlinux"))).toBe(true);
      expect(readdirSync(store).sort()).toEqual([".cache", "base"]);
    });
  });
});
