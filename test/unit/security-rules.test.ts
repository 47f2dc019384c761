// The pure rules behind the security layer: which hosts count as loopback, how a Host header is
// read, constant-time token comparison, the listen policy (TLS off loopback), room checks that
// name what is short, the firewall rule's text and the sandbox and confinement options QEMU gets.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostOf, isLoopbackHost, tokenMatches } from "../../backend/api/access";
import { UsageError } from "../../backend/cli/command-registry";
import { planListen } from "../../backend/cli/listen-policy";
import { capacityProblem, snapshotNeed, startNeed } from "../../backend/core/capacity";
import { hugePagesFreeMb } from "../../backend/host/capacity";
import { TOOL_UID, VM_UID_BASE, VM_UID_COUNT, VmUidPool } from "../../backend/host/confinement/vm-identity";
import { firewallRuleset } from "../../backend/host/net/firewall";
import { buildQemuArgs, sandboxOption } from "../../backend/host/qemu/command-line";
import { vmPaths } from "../../backend/host/qemu/vm-paths";
import type { VmSpec } from "../../backend/host/qemu/vm-spec";

describe("loopback hosts", () => {
  it.each(["localhost", "LOCALHOST", "localhost.", "app.localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"])("%s is loopback", (h) =>
    expect(isLoopbackHost(h)).toBe(true));
  it.each(["evil.example", "localhost.evil.example", "127.0.0.1.evil.example", "10.0.2.2", "0.0.0.0", "::", "192.0.2.2", "", "[::2]"])("%s is not", (h) =>
    expect(isLoopbackHost(h)).toBe(false));
  it("reads the host part of a Host header and refuses malformed ones", () => {
    expect(hostOf("127.0.0.1:7480")).toBe("127.0.0.1");
    expect(hostOf("[::1]:7480")).toBe("[::1]");
    expect(hostOf("localhost")).toBe("localhost");
    expect(hostOf("a b")).toBeNull();
    expect(hostOf("x:1:2")).toBeNull();
    expect(hostOf("user@host")).toBeNull();
  });
});

it("compares tokens by digest: equal, different, and of other lengths", () => {
  const expected = createHash("sha256").update("a-token-of-some-length").digest();
  expect(tokenMatches("a-token-of-some-length", expected)).toBe(true);
  expect(tokenMatches("a-token-of-some-lengtH", expected)).toBe(false);
  expect(tokenMatches("a", expected)).toBe(false);
  expect(tokenMatches("a-token-of-some-length-and-more", expected)).toBe(false);
});

describe("listen policy", () => {
  it("serves plain HTTP on loopback without being asked", () => {
    for (const h of ["127.0.0.1", "localhost", "::1"]) expect(planListen(h, {})).toEqual({ tls: null, warning: null });
  });
  it("refuses another address without TLS or --insecure-listen, naming both ways", () => {
    expect(() => planListen("0.0.0.0", {})).toThrow(UsageError);
    expect(() => planListen("192.0.2.2", {})).toThrow(/needs TLS: give --tls-cert and --tls-key, or --insecure-listen/);
  });
  it("takes TLS, or plain HTTP with a warning when the operator insists", () => {
    expect(planListen("0.0.0.0", { tlsCert: "c.pem", tlsKey: "k.pem" })).toEqual({ tls: { certFile: "c.pem", keyFile: "k.pem" }, warning: null });
    expect(planListen("0.0.0.0", { insecure: true }).warning).toMatch(/unencrypted/);
  });
  it("refuses half a TLS configuration and TLS with --insecure-listen", () => {
    expect(() => planListen("127.0.0.1", { tlsCert: "c.pem" })).toThrow(/go together/);
    expect(() => planListen("0.0.0.0", { tlsCert: "c", tlsKey: "k", insecure: true })).toThrow(/contradicts/);
  });
});

describe("room checks", () => {
  const free = { memoryAvailableMb: 2048, ramDirFreeMb: 1024 };
  it("counts guest RAM for a cold boot, QEMU's own for a warm start, and a RAM image for a snapshot", () => {
    expect(startNeed(512, "cold")).toEqual({ memoryMb: 576, ramDirMb: 0 });
    expect(startNeed(512, "warm")).toEqual({ memoryMb: 64, ramDirMb: 0 });
    // In huge pages the guest's RAM comes from the host's pool; QEMU's own from its memory.
    expect(startNeed(512, "huge-pages")).toEqual({ memoryMb: 64, ramDirMb: 0, hugePagesMb: 512 });
    expect(snapshotNeed(512)).toEqual({ memoryMb: 576, ramDirMb: 512 });
  });
  it("names the RAM directory when it is short, with what is needed, free and reserved", () => {
    const e = capacityProblem(snapshotNeed(900), free, 256, "snapshot x", "/dev/shm/vmbranch-abc");
    expect([e?.code, e?.status, e?.message]).toEqual([
      "INSUFFICIENT_STORAGE", 507, "Not enough space in the RAM directory /dev/shm/vmbranch-abc to snapshot x: needs 900 MiB, 1024 MiB free and 256 MiB kept in reserve",
    ]);
  });
  it("names host memory when it is short", () => {
    const e = capacityProblem(startNeed(1800, "cold"), free, 256, "start instance 'big'", "/r");
    expect([e?.code, e?.message]).toEqual(["INSUFFICIENT_MEMORY", "Not enough host memory to start instance 'big': needs 1864 MiB, 2048 MiB available and 256 MiB kept in reserve"]);
  });
  it("reads the huge-page pool's free pages less those guests reserved, and no pool as unknown", async () => {
    const pool = mkdtempSync(join(tmpdir(), "vmbranch-unit-pool-"));
    try {
      writeFileSync(join(pool, "free_hugepages"), "300\n");
      writeFileSync(join(pool, "resv_hugepages"), "75\n");
      expect(await hugePagesFreeMb(pool)).toBe(450);
      expect(await hugePagesFreeMb(join(pool, "missing"))).toBeNull();
    } finally {
      rmSync(pool, { recursive: true, force: true });
    }
  });
  it("names the huge-page pool when a boot in huge pages does not fit it, keeping no reserve of it; an unknown pool passes", () => {
    const pool = (mb: number | null) => ({ ...free, hugePagesFreeMb: mb });
    const e = capacityProblem(startNeed(512, "huge-pages"), pool(510), 256, "start instance 'hp'", "/r");
    expect([e?.code, e?.status, e?.message]).toEqual(["INSUFFICIENT_MEMORY", 507, "Not enough free huge pages to start instance 'hp': needs 512 MiB of 2 MiB pages, 510 MiB free in the host's pool (vm.nr_hugepages)"]);
    expect(capacityProblem(startNeed(512, "huge-pages"), pool(512), 256, "start", "/r")).toBeNull();
    expect(capacityProblem(startNeed(512, "huge-pages"), pool(null), 256, "start", "/r")).toBeNull();
    expect(capacityProblem(startNeed(512, "huge-pages"), free, 256, "start", "/r")).toBeNull();
  });
  it("lets through what fits, and what it cannot measure", () => {
    expect(capacityProblem(snapshotNeed(256), free, 256, "x", "/r")).toBeNull();
    expect(capacityProblem(snapshotNeed(99999), { memoryAvailableMb: null, ramDirFreeMb: null }, 256, "x", "/r")).toBeNull();
  });
});

describe("VM identities", () => {
  it("hands out distinct uids of the range, never the tools' one, and takes them back", () => {
    const pool = new VmUidPool();
    const uids = new Set(Array.from({ length: 200 }, () => pool.take()));
    expect(uids.size).toBe(200);
    // TOOL_UID is the range's last uid: a VM's uid lies below it.
    expect(TOOL_UID).toBe(VM_UID_BASE + VM_UID_COUNT - 1);
    for (const u of uids) expect(Number.isInteger(u) && u >= VM_UID_BASE && u < TOOL_UID).toBe(true);
  });
  it("keeps the host firewall rule to new connections of VM uids towards the host's own addresses", () => {
    const rules = firewallRuleset();
    expect(rules).toContain(`meta skuid ${VM_UID_BASE}-${VM_UID_BASE + VM_UID_COUNT - 1} ct state new fib daddr type local counter reject`);
    // Replacing the table whole is one transaction: rules are never doubled by a second start.
    expect(rules.indexOf("delete table inet vmbranch")).toBeLessThan(rules.lastIndexOf("table inet vmbranch {"));
  });
});

describe("QEMU's confinement options", () => {
  const spec = (over: Partial<VmSpec> = {}): VmSpec => ({
    uuid: "6f1c2e8a-2b7d-4c1e-9a3f-5d6e7f8a9b0c", smbiosSerial: "s", vmgenid: "6f1c2e8a-2b7d-4c1e-9a3f-5d6e7f8a9b0d", accel: "tcg", machineType: "pc-i440fx-10.0",
    vcpus: 1, memoryMb: 128, memory: { kind: "anonymous" }, kernel: "/k", initrd: "/i", cmdline: "c", disks: [], shares: [],
    nic: { mac: "02:00:00:00:00:01", forwards: [] }, incoming: "none", startPaused: false, ...over,
  });
  const paths = vmPaths("/var/lib/vmbranch/run/x");
  const value = (a: string[], flag: string) => a[a.indexOf(flag) + 1];

  it("turns the sandbox on, allowing set*id only for QEMU's own drop", () => {
    expect(sandboxOption(false)).toBe("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    expect(sandboxOption(true)).toBe("on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny");
    const a = buildQemuArgs(spec({ sandbox: true, confine: { uid: 2100000001, gid: 995, chroot: "/var/lib/vmbranch/run/x/jail" } }), paths);
    expect(value(a, "-sandbox")).toBe(sandboxOption(true));
    expect(value(a, "-run-with")).toBe("user=2100000001:995,chroot=/var/lib/vmbranch/run/x/jail");
  });
  it("runs unconfined and unsandboxed only when told to", () => {
    const a = buildQemuArgs(spec(), paths);
    expect(a).not.toContain("-sandbox");
    expect(a).not.toContain("-run-with");
  });
  it("restricts the guest's network unless it has outbound access", () => {
    expect(value(buildQemuArgs(spec({ nic: { mac: "02:00:00:00:00:01", forwards: [], restrict: true } }), paths), "-netdev")).toBe("user,id=net0,restrict=on");
    expect(value(buildQemuArgs(spec(), paths), "-netdev")).toBe("user,id=net0");
  });
  it("waits for a restore's device state, handed over open, rather than naming its file", () => {
    const a = buildQemuArgs(spec({ incoming: { file: "/var/lib/vmbranch/snapshots/s.devstate" }, startPaused: true }), paths);
    expect(value(a, "-incoming")).toBe("defer");
    expect(a.join(" ")).not.toContain("s.devstate");
  });
});
