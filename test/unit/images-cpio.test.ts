// The newc writer and the initramfs layout, checked by a reader of the test helpers and by GNU cpio itself.
import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeNewcArchive, type CpioEntry } from "../../backend/host/images/cpio-newc";
import { readNewcArchive } from "../helpers/newc-reader";
import { initramfsEntries, parseBusyboxApplets } from "../../backend/host/images/initramfs-layout";

const entries: CpioEntry[] = [
  { kind: "dir", path: "bin" },
  { kind: "dir", path: "etc", mode: 0o700 },
  { kind: "file", path: "bin/busybox", data: Buffer.from("#!fake busybox\n"), mode: 0o755 },
  { kind: "symlink", path: "bin/sh", target: "/bin/busybox" },
  // Sizes 0..3 mod 4 exercise the padding of names and bodies.
  { kind: "file", path: "etc/a", data: Buffer.from("") },
  { kind: "file", path: "etc/bb", data: Buffer.from("x") },
  { kind: "file", path: "etc/ccc", data: Buffer.from("xy") },
  { kind: "file", path: "etc/dddd", data: Buffer.from("xyz") },
  { kind: "file", path: "etc/binary", data: Buffer.from([0, 1, 2, 255, 0]) },
];

describe("cpio newc writer", () => {
  it("round-trips through its own reader with 4-byte alignment", () => {
    const archive = writeNewcArchive(entries);
    expect(archive.length % 4).toBe(0);
    expect(archive.toString("ascii", 0, 6)).toBe("070701");
    const back = readNewcArchive(archive);
    expect(back.map((r) => r.path)).toEqual(entries.map((e) => e.path));
    expect(back.find((r) => r.path === "etc/binary")!.body).toEqual(Buffer.from([0, 1, 2, 255, 0]));
    expect(back.find((r) => r.path === "bin/sh")!.body.toString()).toBe("/bin/busybox");
    expect(back.find((r) => r.path === "etc")!.mode).toBe(0o40700);
    expect(back.find((r) => r.path === "bin/busybox")!.mode).toBe(0o100755);
  });

  it("is reproducible: same entries, same bytes", () => {
    expect(writeNewcArchive(entries).equals(writeNewcArchive(entries))).toBe(true);
  });

  it("is readable by GNU cpio", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmbranch-cpio-"));
    try {
      execFileSync("cpio", ["-i", "-d", "--no-absolute-filenames", "--quiet"], { cwd: dir, input: writeNewcArchive(entries) });
      expect(readFileSync(path.join(dir, "bin/busybox"), "utf8")).toBe("#!fake busybox\n");
      expect(readlinkSync(path.join(dir, "bin/sh"))).toBe("/bin/busybox");
      expect(readFileSync(path.join(dir, "etc/dddd"), "utf8")).toBe("xyz");
      expect(lstatSync(path.join(dir, "bin/busybox")).mode & 0o777).toBe(0o755);
      const listing = execFileSync("cpio", ["-t", "--quiet"], { input: writeNewcArchive(entries), encoding: "utf8" });
      expect(listing.trim().split("\n")).toEqual(entries.map((e) => e.path));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects duplicate and unsafe paths", () => {
    expect(() => writeNewcArchive([{ kind: "dir", path: "a" }, { kind: "dir", path: "a" }])).toThrow(/duplicate/);
    expect(() => writeNewcArchive([{ kind: "dir", path: "a/../b" }])).toThrow(/bad cpio path/);
    expect(() => writeNewcArchive([{ kind: "dir", path: "" }])).toThrow(/bad cpio path/);
  });
});

describe("initramfs layout", () => {
  const layout = initramfsEntries({
    busybox: Buffer.from("bb"),
    applets: parseBusyboxApplets("bin/sh\nbin/busybox\nsbin/acpid\nusr/bin/[\n\n/usr/sbin/httpd\n"),
    guestFiles: [
      { path: "init", data: Buffer.from("#!/bin/busybox sh\n"), mode: 0o755 },
      { path: "etc/acpi/PWRF/00000080", data: Buffer.from("#!/bin/sh\n"), mode: 0o755 },
    ],
    modules: new Map([
      ["virtio_ring", Buffer.from("ko1")],
      ["virtio", Buffer.from("ko2")],
    ]),
    moduleGroups: [{ name: "core", levels: [["virtio_ring"], ["virtio"]] }],
    release: { kernel: "6.1.0-test" },
  });
  const byPath = new Map(layout.map((e) => [e.path, e]));

  it("puts every parent directory before its children", () => {
    const seen = new Set<string>();
    for (const e of layout) {
      const parent = path.dirname(e.path);
      if (parent !== ".") expect(seen.has(parent)).toBe(true);
      seen.add(e.path);
    }
  });

  it("links each applet to busybox and skips busybox itself", () => {
    expect(byPath.get("bin/sh")).toEqual({ kind: "symlink", path: "bin/sh", target: "/bin/busybox" });
    expect(byPath.get("usr/bin/[")).toMatchObject({ kind: "symlink" });
    expect(byPath.get("usr/sbin/httpd")).toMatchObject({ kind: "symlink" });
    expect(byPath.get("bin/busybox")).toMatchObject({ kind: "file", mode: 0o755 });
  });

  it("has /init, the power button handler, /dev/console, modules and their load plan", () => {
    expect(byPath.get("init")).toMatchObject({ kind: "file", mode: 0o755 });
    expect(byPath.get("etc/acpi/PWRF/00000080")).toMatchObject({ kind: "file", mode: 0o755 });
    expect(byPath.get("dev/console")).toMatchObject({ kind: "chardev", major: 5, minor: 1 });
    expect(byPath.get("lib/modules/virtio.ko")).toMatchObject({ kind: "file" });
    const plan = byPath.get("etc/modules/core") as { data: Buffer };
    expect(plan.data.toString()).toBe("virtio_ring\nvirtio\n");
    expect((byPath.get("etc/vmbranch-release") as { data: Buffer }).data.toString()).toBe("kernel=6.1.0-test\n");
    for (const d of ["proc", "sys", "dev", "run", "tmp", "sbin", "usr/sbin", "var/log"]) expect(byPath.get(d)).toMatchObject({ kind: "dir" });
  });

  it("fails when a planned module was not provided", () => {
    expect(() =>
      initramfsEntries({ busybox: Buffer.from(""), applets: [], guestFiles: [], modules: new Map(), moduleGroups: [{ name: "core", levels: [["x"]] }], release: {} }),
    ).toThrow(/module x/);
  });
});
