// VM runtime paths: layout, the unix-socket length limit and the short link that works around it.
import { lstatSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_SOCKET_PATH_BYTES, prepareVmPaths, removeVmPaths, removeVmRuntimeFiles, vmPaths, VmPathsError } from "../../backend/host/qemu/vm-paths";

let root: string;
beforeEach(() => (root = mkdtempSync(join(tmpdir(), "vmb-paths-"))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

test("a short run dir keeps everything inside it", () => {
  const p = vmPaths("/var/lib/vmbranch/instances/abc/run/");
  expect(p).toEqual({
    runDir: "/var/lib/vmbranch/instances/abc/run",
    qmpSocket: "/var/lib/vmbranch/instances/abc/run/qmp.sock",
    agentSocket: "/var/lib/vmbranch/instances/abc/run/ga.sock",
    pidFile: "/var/lib/vmbranch/instances/abc/run/qemu.pid",
    serialLog: "/var/lib/vmbranch/instances/abc/run/serial.log",
    qemuLog: "/var/lib/vmbranch/instances/abc/run/qemu.log",
    guestConfig: "/var/lib/vmbranch/instances/abc/run/guest-config.sh",
    stateFile: "/var/lib/vmbranch/instances/abc/run/vm.json",
    shortLink: null,
  });
});

test("relative run dirs and % in the path are refused", () => {
  expect(() => vmPaths("run")).toThrow(VmPathsError);
  expect(() => vmPaths("/data/100%/run")).toThrow(/must not contain %/);
});

test("a long run dir gets a stable short link under the link root", () => {
  const long = join(root, "x".repeat(120), "run");
  const a = vmPaths(long, { shortLinkRoot: "/tmp" });
  expect(a.runDir).toBe(long);
  expect(a.pidFile).toBe(join(long, "qemu.pid"));
  expect(a.shortLink).toMatch(/^\/tmp\/vmb-[0-9a-f]{16}$/);
  expect(a.qmpSocket).toBe(`${a.shortLink}/qmp.sock`);
  // The guest agent's socket goes through the same link, and is never the longer of the two.
  expect(a.agentSocket).toBe(`${a.shortLink}/ga.sock`);
  expect(Buffer.byteLength(a.agentSocket)).toBeLessThanOrEqual(Buffer.byteLength(a.qmpSocket));
  expect(Buffer.byteLength(a.qmpSocket)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
  expect(vmPaths(long, { shortLinkRoot: "/tmp" })).toEqual(a);
  expect(vmPaths(long + "2", { shortLinkRoot: "/tmp" }).shortLink).not.toBe(a.shortLink);
});

test("the limit is counted in bytes, not characters", () => {
  // 3-byte characters: short in characters, too long in bytes.
  const dir = "/" + "€".repeat(34);
  expect(dir.length + "/qmp.sock".length).toBeLessThan(MAX_SOCKET_PATH_BYTES);
  expect(vmPaths(dir).shortLink).not.toBeNull();
});

test("fails clearly when even the short form does not fit", () => {
  expect(() => vmPaths("/" + "d".repeat(200), { shortLinkRoot: "/" + "t".repeat(100) })).toThrow(/QMP socket path too long/);
});

test("through the short link a socket in a deep run dir really works", async () => {
  const p = vmPaths(join(root, "deep".repeat(30), "run"), { shortLinkRoot: root });
  await prepareVmPaths(p);
  await prepareVmPaths(p); // idempotent
  expect(readlinkSync(p.shortLink as string)).toBe(p.runDir);
  const srv = createServer((s) => s.end("hi"));
  await new Promise<void>((r) => srv.listen(p.qmpSocket, r));
  expect(existsSync(join(p.runDir, "qmp.sock"))).toBe(true);
  const got = await new Promise<string>((resolve, reject) => {
    const c = connect(p.qmpSocket);
    let d = "";
    c.on("data", (b) => (d += String(b)));
    c.on("end", () => resolve(d));
    c.on("error", reject);
  });
  expect(got).toBe("hi");
  await new Promise<void>((r) => srv.close(() => r()));
  await removeVmRuntimeFiles(p);
  expect(existsSync(p.shortLink as string)).toBe(false);
  expect(existsSync(p.runDir)).toBe(true);
  await removeVmPaths(p);
  expect(existsSync(p.runDir)).toBe(false);
});

test("an existing entry that is not our link is refused and left alone", async () => {
  const p = vmPaths(join(root, "deep".repeat(30), "run"), { shortLinkRoot: root });
  symlinkSync("/etc", p.shortLink as string);
  await expect(prepareVmPaths(p)).rejects.toThrow(/is not this user's link/);
  await removeVmRuntimeFiles(p);
  expect(lstatSync(p.shortLink as string).isSymbolicLink()).toBe(true);
  rmSync(p.shortLink as string);
  writeFileSync(p.shortLink as string, "");
  await expect(prepareVmPaths(p)).rejects.toThrow(VmPathsError);
});
