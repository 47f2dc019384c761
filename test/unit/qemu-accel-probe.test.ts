// The accelerator decision: overrides, a missing /dev/kvm, the cache key, and the fallback to TCG
// when KVM cannot start a guest. Hermetic: a fake QEMU script stands in for the real binary.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectAccelerator, type AccelProbeOptions } from "../../backend/host/qemu/accel-probe";

let dir: string;
let fakeQemu: string;
let fakeKvm: string;
const logs: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vmb-accel-"));
  fakeQemu = join(dir, "qemu");
  // --version answers like QEMU; any other invocation exits at once without daemonizing a VM.
  writeFileSync(fakeQemu, '#!/bin/sh\n[ "$1" = --version ] && echo "QEMU emulator version 10.0.2 (fake)"\nexit 0\n');
  chmodSync(fakeQemu, 0o755);
  fakeKvm = join(dir, "kvm");
  writeFileSync(fakeKvm, "");
  logs.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const opts = (over: Partial<AccelProbeOptions> = {}): AccelProbeOptions => ({
  image: { kernel: "/img/vmlinux", initrd: "/img/initrd", cmdline: "console=ttyS0", digest: "sha256:abc" },
  cacheFile: join(dir, "cache", "accelerator.json"),
  qemuBinary: fakeQemu,
  kvmDevice: fakeKvm,
  workDir: dir,
  override: "auto",
  log: (m) => logs.push(m),
  ...over,
});

test("VMBRANCH_ACCEL-style overrides decide without probing", async () => {
  await expect(detectAccelerator(opts({ override: "tcg" }))).resolves.toEqual({ accel: "tcg", reason: "forced by VMBRANCH_ACCEL=tcg", cached: false });
  await expect(detectAccelerator(opts({ override: "kvm", kvmDevice: join(dir, "missing") }))).resolves.toMatchObject({ accel: "kvm" });
  expect(logs).toEqual(["accelerator: tcg (forced by VMBRANCH_ACCEL=tcg)", "accelerator: kvm (forced by VMBRANCH_ACCEL=kvm)"]);
});

test("the override comes from the environment when not given", async () => {
  const before = process.env.VMBRANCH_ACCEL;
  process.env.VMBRANCH_ACCEL = "tcg";
  try {
    await expect(detectAccelerator(opts({ override: undefined }))).resolves.toMatchObject({ accel: "tcg", reason: "forced by VMBRANCH_ACCEL=tcg" });
  } finally {
    if (before === undefined) delete process.env.VMBRANCH_ACCEL;
    else process.env.VMBRANCH_ACCEL = before;
  }
});

test("an invalid override is an error", async () => {
  await expect(detectAccelerator(opts({ override: "hvf" }))).rejects.toThrow("VMBRANCH_ACCEL must be kvm, tcg or auto, got 'hvf'");
});

test("no usable /dev/kvm means tcg, with the reason", async () => {
  await expect(detectAccelerator(opts({ kvmDevice: join(dir, "missing") }))).resolves.toMatchObject({
    accel: "tcg",
    reason: `no usable ${join(dir, "missing")} (ENOENT)`,
  });
});

test("KVM that cannot start a guest falls back to tcg, and the verdict is cached by host, QEMU and image", async () => {
  const first = await detectAccelerator(opts());
  expect(first.accel).toBe("tcg");
  expect(first.cached).toBe(false);
  expect(first.reason).toMatch(/^QEMU could not start under KVM: /);
  const cache = JSON.parse(readFileSync(join(dir, "cache", "accelerator.json"), "utf8")) as { key: string };
  expect(cache.key).toMatch(/\|qemu 10\.0\.2\|sha256:abc$/);

  await expect(detectAccelerator(opts())).resolves.toEqual({ ...first, cached: true });
  // Another image digest is another question.
  const other = await detectAccelerator(opts({ image: { ...opts().image, digest: "sha256:def" } }));
  expect(other.cached).toBe(false);
});

test("a cached kvm verdict is used as is", async () => {
  const first = await detectAccelerator(opts());
  const file = join(dir, "cache", "accelerator.json");
  const entry = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  writeFileSync(file, JSON.stringify({ ...entry, accel: "kvm", reason: "a guest booted under KVM in 420 ms" }));
  await expect(detectAccelerator(opts())).resolves.toEqual({ accel: "kvm", reason: "a guest booted under KVM in 420 ms", cached: true });
  expect(first.accel).toBe("tcg");
});
