// The builder's helpers around host tools: apt output parsing, vmlinux extraction from a
// synthetic bzImage, kernel features, guest file templates and the build lock.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { withBuildLock } from "../../backend/host/images/build-lock";
import { debFileName, parseAptDepends, parseAptPolicy } from "../../backend/host/images/debian-packages";
import { guestFilesHash, loadGuestFiles, renderTemplate } from "../../backend/host/images/guest-files";
import { AGENT_MAX_FREEZE_S, AGENT_PREFIX, AGENT_TTY, EXIT_MARKER, GUEST_CONFIG_FW_CFG_NAME, INIT_EXIT_CODES, READY_MARKER } from "../../backend/host/images/guest-protocol";
import { extractVmlinux, kernelFeatures, locateKernel, parseKernelConfig } from "../../backend/host/images/kernel-image";
import { HostCommandError, run } from "../../backend/host/util/exec";

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "vmbranch-imgtools-"));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe("apt output parsing", () => {
  // Captured from `apt-cache policy linux-image-amd64 busybox-static nosuch` on bookworm.
  const policy = `linux-image-amd64:
  Installed: (none)
  Candidate: 6.1.192-2
  Version table:
     6.12.95-1~bpo12+1 100
        100 http://example.invalid/debian bookworm-backports/main amd64 Packages
     6.1.192-2 500
        500 http://example.invalid/debian-security bookworm-security/main amd64 Packages
busybox-static:
  Installed: 1:1.35.0-4+deb12u1+b1
  Candidate: 1:1.35.0-4+deb12u1+b1
  Version table:
 *** 1:1.35.0-4+deb12u1+b1 500
        100 /var/lib/dpkg/status
virtual-only:
  Installed: (none)
  Candidate: (none)
  Version table:
`;

  it("takes the candidate (what apt-get download fetches), not the highest version", () => {
    const got = parseAptPolicy(policy);
    expect(got.get("linux-image-amd64")).toBe("6.1.192-2");
    expect(got.get("busybox-static")).toBe("1:1.35.0-4+deb12u1+b1");
    expect(got.has("virtual-only")).toBe(false);
  });

  it("lists dependencies, first alternatives included, virtual ones skipped", () => {
    const depends = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n |Depends: foo\n  Depends: bar\n  Depends: <virtual-thing>\n  PreDepends: dpkg\n  Recommends: nope\n";
    expect(parseAptDepends(depends)).toEqual(["linux-image-6.1.0-56-amd64", "foo", "bar", "dpkg"]);
  });

  it("names cached .debs without the epoch colon", () => {
    expect(debFileName({ name: "busybox-static", version: "1:1.35.0-4" })).toBe("busybox-static_1%3a1.35.0-4_amd64.deb");
  });
});

describe("kernel image", () => {
  it("extracts the ELF kernel after the xz magic, ignoring data around the stream", async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(5000, 7)]);
    const xz = execFileSync("xz", ["-c", "--format=xz", "--check=crc32"], { input: elf });
    // A decoy magic before the payload must be skipped; trailing bytes must be ignored.
    const decoy = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]);
    const bz = Buffer.concat([Buffer.from("MZ setup code"), decoy, Buffer.alloc(100), xz, Buffer.from("trailer")]);
    writeFileSync(path.join(tmp, "bzImage"), bz);
    await extractVmlinux(path.join(tmp, "bzImage"), path.join(tmp, "vmlinux"));
    expect(readFileSync(path.join(tmp, "vmlinux")).equals(elf)).toBe(true);
  });

  it("fails clearly without an xz payload", async () => {
    writeFileSync(path.join(tmp, "bzImage"), "no payload here");
    await expect(extractVmlinux(path.join(tmp, "bzImage"), path.join(tmp, "vmlinux"))).rejects.toThrow(/no xz-compressed payload/);
  });

  it("reads features from the kernel config", () => {
    const generic = parseKernelConfig("CONFIG_VMGENID=y\nCONFIG_PVH=y\n# CONFIG_FOO is not set\nCONFIG_NET_9P=m\nCONFIG_NET_9P_VIRTIO=m\nCONFIG_9P_FS=m\nCONFIG_EXT4_FS=m\nCONFIG_VIRTIO_BLK=m\nCONFIG_VIRTIO_NET=m\nCONFIG_ACPI_BUTTON=m\nCONFIG_INPUT_EVDEV=m\nCONFIG_LOCALVERSION=\"\"\n");
    expect(kernelFeatures(generic)).toEqual(["9p", "acpi-power-button", "ext4", "pvh", "virtio-blk", "virtio-net", "vmgenid"]);
    // Like the -cloud- kernel: no vmgenid, no 9p; a modular VMGENID would not count either.
    const cloud = parseKernelConfig("CONFIG_VMGENID=m\nCONFIG_PVH=y\nCONFIG_EXT4_FS=y\n");
    expect(kernelFeatures(cloud)).toEqual(["ext4", "pvh"]);
  });

  it("locates the kernel, its config and modules in an unpacked package", () => {
    mkdirSync(path.join(tmp, "boot"));
    mkdirSync(path.join(tmp, "lib/modules/6.1.0-9-amd64"), { recursive: true });
    writeFileSync(path.join(tmp, "boot/vmlinuz-6.1.0-9-amd64"), "");
    writeFileSync(path.join(tmp, "boot/config-6.1.0-9-amd64"), "");
    expect(locateKernel(tmp)).toEqual({
      version: "6.1.0-9-amd64",
      bzImage: path.join(tmp, "boot/vmlinuz-6.1.0-9-amd64"),
      config: path.join(tmp, "boot/config-6.1.0-9-amd64"),
      modulesDir: path.join(tmp, "lib/modules/6.1.0-9-amd64"),
    });
    writeFileSync(path.join(tmp, "boot/vmlinuz-6.1.0-10-amd64"), "");
    expect(() => locateKernel(tmp)).toThrow(/found 2/);
  });
});

describe("guest files", () => {
  it("fills every token from the guest protocol", () => {
    const files = loadGuestFiles();
    const init = files.find((f) => f.path === "init")!.data.toString();
    expect(init).not.toMatch(/@@[A-Z0-9_]+@@/);
    expect(init).toContain(`echo "${READY_MARKER}"`);
    expect(init).toContain(`echo "${EXIT_MARKER} $1"`);
    expect(init).toContain(`by_name/${GUEST_CONFIG_FW_CFG_NAME}/raw`);
    expect(init).toContain(`fail ${INIT_EXIT_CODES.mountFailed} `);
    expect(files.map((f) => f.path).sort()).toEqual(["etc/acpi/PWRF/00000080", "init", "sbin/vmbranch-agent"]);
    const agent = files.find((f) => f.path === "sbin/vmbranch-agent")!.data.toString();
    expect(agent).not.toMatch(/@@[A-Z0-9_]+@@/);
    expect(agent).toContain(`TTY=/dev/${AGENT_TTY}`);
    expect(agent).toContain(`"${AGENT_PREFIX}"`);
    expect(agent).toContain(`-le ${AGENT_MAX_FREEZE_S} ]`);
    expect(init).toContain("setsid /sbin/vmbranch-agent");
  });

  it("are valid shell for busybox sh", () => {
    for (const f of loadGuestFiles()) {
      writeFileSync(path.join(tmp, "f"), f.data);
      execFileSync("busybox", ["sh", "-n", path.join(tmp, "f")]);
    }
  });

  it("refuses unknown tokens and hashes content and paths", () => {
    expect(() => renderTemplate("x @@NOPE@@")).toThrow(/@@NOPE@@/);
    expect(renderTemplate("a @@X@@ b", { X: "1" })).toBe("a 1 b");
    const files = loadGuestFiles();
    expect(guestFilesHash(files)).toBe(guestFilesHash([...files].reverse()));
    expect(guestFilesHash(files)).not.toBe(guestFilesHash([{ ...files[0]!, data: Buffer.from("changed") }, ...files.slice(1)]));
  });
});

describe("runCommand", () => {
  it("returns stdout, feeds stdin and reports failures with stderr", async () => {
    expect(await run("cat", [], { input: Buffer.from("in") })).toBe("in");
    await expect(run("sh", ["-c", "echo bad >&2; exit 3"])).rejects.toThrow(/exit 3\): bad/);
    await expect(run("/nonexistent/tool", [])).rejects.toBeInstanceOf(HostCommandError);
  });
});

describe("build lock", () => {
  it("serialises holders in one process", async () => {
    const lock = path.join(tmp, ".lock");
    const events: string[] = [];
    const hold = (name: string) =>
      withBuildLock(lock, async () => {
        events.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 50));
        events.push(`${name}-`);
      });
    await Promise.all([hold("a"), hold("b")]);
    expect(events).toEqual(["a+", "a-", "b+", "b-"]);
    expect(existsSync(lock)).toBe(false);
  });

  it("takes over a lock whose owner is dead and releases on error", async () => {
    const lock = path.join(tmp, ".lock");
    const dead = spawn("true");
    await new Promise((r) => dead.on("exit", r));
    writeFileSync(lock, String(dead.pid));
    await expect(withBuildLock(lock, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(lock)).toBe(false);
  });

  it("times out while a live process holds it", async () => {
    const lock = path.join(tmp, ".lock");
    writeFileSync(lock, String(process.pid));
    await expect(withBuildLock(lock, async () => 1, { timeoutMs: 300 })).rejects.toThrow(/still held/);
  });
});
