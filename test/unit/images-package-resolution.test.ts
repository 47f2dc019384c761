// Remembering apt's answer: the fingerprint of apt's state on a fake root, and when the
// remembered package versions are reused or apt is asked again.
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { PackagePin } from "../../backend/host/images/debian-packages";
import { aptStateFingerprint, resolvePackages, type PackageQuery } from "../../backend/host/images/package-resolution";

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "vmbranch-apt-"));
  mkdirSync(path.join(root, "var/lib/apt/lists/partial"), { recursive: true });
  mkdirSync(path.join(root, "etc/apt/sources.list.d"), { recursive: true });
  writeFileSync(path.join(root, "var/lib/apt/lists/deb_dists_bookworm_main_binary-amd64_Packages"), "Package: a\n");
  writeFileSync(path.join(root, "etc/apt/sources.list.d/debian.sources"), "Types: deb\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("aptStateFingerprint", () => {
  it("is stable while nothing changes and ignores partial downloads and the lock", () => {
    const a = aptStateFingerprint(root);
    writeFileSync(path.join(root, "var/lib/apt/lists/partial/x"), "downloading");
    writeFileSync(path.join(root, "var/lib/apt/lists/lock"), "");
    expect(aptStateFingerprint(root)).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ["a package list is updated", (r: string) => writeFileSync(path.join(r, "var/lib/apt/lists/deb_dists_bookworm_main_binary-amd64_Packages"), "Package: a\nVersion: 2\n")],
    ["a suite is added", (r: string) => writeFileSync(path.join(r, "var/lib/apt/lists/deb_dists_bookworm-backports_main_binary-amd64_Packages"), "")],
    ["a pin is added", (r: string) => (mkdirSync(path.join(r, "etc/apt/preferences.d")), writeFileSync(path.join(r, "etc/apt/preferences.d/kernel"), "Pin: release a=bookworm-backports\n"))],
    ["a source is touched", (r: string) => utimesSync(path.join(r, "etc/apt/sources.list.d/debian.sources"), new Date(1000), new Date(1000))],
  ])("changes when %s", (_what, change) => {
    const before = aptStateFingerprint(root);
    change(root);
    expect(aptStateFingerprint(root)).not.toBe(before);
  });

  it("is undefined without package lists", () => {
    rmSync(path.join(root, "var/lib/apt/lists"), { recursive: true });
    expect(aptStateFingerprint(root)).toBeUndefined();
  });
});

describe("resolvePackages", () => {
  const query: PackageQuery = { metaPackage: "linux-image-amd64", metaPattern: /^linux-image-\d/, others: ["busybox-static"] };
  const pins: PackagePin[] = [
    { name: "linux-image-6.1.0-56-amd64", version: "6.1.192-2" },
    { name: "busybox-static", version: "1:1.35.0-4" },
  ];

  function counter(answer: PackagePin[] = pins) {
    const calls: PackageQuery[] = [];
    return { calls, ask: async (q: PackageQuery) => (calls.push(q), answer) };
  }

  it("asks apt once and then reuses the answer while the fingerprint is unchanged", async () => {
    const file = path.join(root, "cache/apt-resolution.json");
    const apt = counter();
    expect(await resolvePackages(query, file, { fingerprint: "f1", ask: apt.ask })).toEqual(pins);
    expect(await resolvePackages(query, file, { fingerprint: "f1", ask: apt.ask })).toEqual(pins);
    expect(apt.calls).toHaveLength(1);
  });

  it("asks again when apt's state or the query changes", async () => {
    const file = path.join(root, "apt-resolution.json");
    const apt = counter();
    await resolvePackages(query, file, { fingerprint: "f1", ask: apt.ask });
    await resolvePackages(query, file, { fingerprint: "f2", ask: apt.ask });
    await resolvePackages({ ...query, others: ["busybox"] }, file, { fingerprint: "f2", ask: apt.ask });
    expect(apt.calls).toHaveLength(3);
  });

  it("always asks, and remembers nothing, without a fingerprint", async () => {
    const file = path.join(root, "apt-resolution.json");
    const apt = counter();
    await resolvePackages(query, file, { fingerprint: undefined, ask: apt.ask });
    await resolvePackages(query, file, { fingerprint: undefined, ask: apt.ask });
    expect(apt.calls).toHaveLength(2);
    expect(existsSync(file)).toBe(false);
  });

  it("ignores a corrupt remembered answer and propagates apt's errors", async () => {
    const file = path.join(root, "apt-resolution.json");
    writeFileSync(file, "{not json");
    const apt = counter();
    expect(await resolvePackages(query, file, { fingerprint: "f1", ask: apt.ask })).toEqual(pins);
    await expect(resolvePackages(query, file, { fingerprint: "f9", ask: async () => Promise.reject(new Error("no lists")) })).rejects.toThrow("no lists");
  });
});
