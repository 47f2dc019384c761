// The QEMU runtime against real guests: boot `base` under this host's accelerator (TCG here), run a
// command through the guest configuration, power off through QMP, reattach after losing the
// handle, hot-plug a disk, and survive QEMU dying mid-command. Never skipped.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_MARKER, READY_MARKER } from "../../backend/host/images";
import { probeQemuMachine } from "../../backend/host/qemu/machine-types";
import { QmpClosedError } from "../../backend/host/qemu/qmp/errors";
import { diskBlockdev, diskDevice, diskNames, freePciSlot, hostfwdRemoveRule, hostfwdRule, NETDEV_ID } from "../../backend/host/qemu/vm-devices";
import { isPortFree, pickFreePort } from "../../backend/host/net/ports";
import { VmProcess } from "../../backend/host/qemu/vm-process";
import { readProcStat } from "../../backend/host/qemu/vm-processes";
import { parseProcStat } from "../../backend/host/util/proc-stat";
import { prepareVmPaths, vmPaths } from "../../backend/host/qemu/vm-paths";
import { VmAlreadyRunningError, VmStartError } from "../../backend/host/qemu/vm-launch";
import { testAccelerator } from "../helpers/vm-image";
import { useVmFixture } from "../helpers/vm-fixture";

jest.setTimeout(120_000);
const BOOT_MS = 60_000;
const fx = useVmFixture();

/** Resolves once /proc reports every thread of `pid` stopped by a signal (state T), within 10 s. */
async function waitAllThreadsStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const tids = readdirSync(`/proc/${pid}/task`);
    const states = tids.map((tid) => parseProcStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")).state);
    if (states.every((s) => s === "T")) return;
    if (Date.now() > deadline) throw new Error(`QEMU ${pid} not stopped within 10 s: thread states ${states.join("")}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("the installed QEMU is 10 or newer and a VM's monitor offers the migration capabilities the snapshot strategies set", async () => {
  // The version as serve reads it at start (with the machine type it pins VMs to).
  const machine = await probeQemuMachine();
  expect(Number(machine.qemuVersion.split(".")[0])).toBeGreaterThanOrEqual(10);
  // QEMU 10 has all three (docs/architecture.md, "The platform"); live snapshots and branches set
  // them on the VM's own monitor, so that is where they are looked for.
  const { vm } = await fx.launch({ spec: { startPaused: true } });
  await expect(vm.qmp.queryVersion()).resolves.toMatchObject({ qemu: { major: Number(machine.qemuVersion.split(".")[0]) } });
  const offered = (await vm.qmp.queryMigrateCapabilities()).map((c) => c.capability);
  expect(offered).toEqual(expect.arrayContaining(["background-snapshot", "x-ignore-shared", "mapped-ram"]));
});

test("boots base, runs a command from its configuration, and powers off through QMP", async () => {
  const { accel, reason } = await testAccelerator();
  console.log(`accelerator: ${accel} (${reason})`);
  const script = 'echo "answer=$((6*7))"; echo "dmi-serial=$(cat /sys/class/dmi/id/product_serial)"; exec sleep 600';
  const { vm, spec, paths } = await fx.launch({ guest: { args: ["sh", "-c", script] } });
  const ready = await vm.waitForSerial(READY_MARKER, { timeoutMs: BOOT_MS });
  const answer = await vm.waitForSerial(/answer=(\d+)/, { timeoutMs: 10_000, from: ready.offset });
  expect(answer.match[1]).toBe("42");
  const serial = await vm.waitForSerial(/dmi-serial=(\S*)/, { timeoutMs: 10_000 });
  expect(serial.match[1]).toBe(spec.smbiosSerial);
  await expect(vm.qmp.queryStatus()).resolves.toEqual({ running: true, status: "running" });

  await vm.powerdown();
  const exit = await vm.exited;
  expect(exit).toMatchObject({ shutdownReason: "guest-shutdown", killed: false });
  // Our init stops the app (SIGTERM → 143) and reports it before powering off.
  expect(readFileSync(paths.serialLog, "utf8")).toContain(EXIT_MARKER);
  expect(existsSync(paths.qmpSocket)).toBe(false);
  expect(existsSync(paths.pidFile)).toBe(false);
  await expect(VmProcess.attach(paths)).resolves.toBeNull();
});

test("a VM survives losing its handle: attach finds it again by its paths and still controls it", async () => {
  const { vm, paths } = await fx.launch({ spec: { startPaused: true } });
  // A session of its own: a signal to the starter's process group or terminal never reaches it.
  const sessionOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[3]);
  expect(sessionOf(vm.pid)).toBe(vm.pid);
  expect(sessionOf(vm.pid)).not.toBe(sessionOf(process.pid));
  vm.detach(); // what a crashing `serve` does

  const again = await VmProcess.attach(paths);
  expect(again).not.toBeNull();
  fx.adopt(again as VmProcess);
  expect(again?.pid).toBe(vm.pid);
  expect(again?.uuid).toBe(vm.uuid);
  await expect(again?.qmp.queryStatus()).resolves.toMatchObject({ status: "prelaunch" });
  await again?.qmp.cont();
  await expect(again?.qmp.queryStatus()).resolves.toMatchObject({ running: true });
  await again?.waitForSerial(READY_MARKER, { timeoutMs: BOOT_MS });

  const exit = await again?.kill();
  expect(exit?.killed).toBe(true);
  expect(await readProcStat(vm.pid).then((s) => s === null || s.state === "Z")).toBe(true);
  await expect(VmProcess.attach(paths)).resolves.toBeNull();
});

test("attach refuses a pid that is not this VM (recycled pid)", async () => {
  const { vm, paths } = await fx.launch({ spec: { startPaused: true } });
  await expect(VmProcess.attach(paths, { uuid: "00000000-0000-4000-8000-000000000000" })).resolves.toBeNull();
  await vm.kill();
  // A live process that is not QEMU in the pidfile.
  writeFileSync(paths.pidFile, `${process.pid}\n`);
  await expect(VmProcess.attach(paths, { uuid: vm.uuid })).resolves.toBeNull();
});

test("QEMU dying mid-command rejects the pending command with QmpClosedError and ends the handle", async () => {
  const { vm } = await fx.launch({ spec: { startPaused: true } });
  // A stopped process cannot answer: once every thread of QEMU is stopped, a command sent is
  // still pending when QEMU dies (the monitor registers it as pending before execute returns).
  // kill(2) only queues SIGSTOP, so wait until the kernel reports every thread stopped.
  process.kill(vm.pid, "SIGSTOP");
  await waitAllThreadsStopped(vm.pid);
  const pending = vm.qmp.queryStatus();
  process.kill(vm.pid, "SIGKILL");
  await expect(pending).rejects.toBeInstanceOf(QmpClosedError);
  const exit = await vm.exited;
  expect(exit).toMatchObject({ shutdownReason: null, killed: false });
  await expect(vm.qmp.cont()).rejects.toBeInstanceOf(QmpClosedError);
});

test("shutdown() kills a guest that does not react to the power button in time", async () => {
  // Paused vCPUs cannot handle the ACPI event.
  const { vm } = await fx.launch({ spec: { startPaused: true } });
  const exit = await vm.shutdown(300);
  expect(exit.killed).toBe(true);
});

test("a second launch into the run dir of a live VM is refused and the first VM is untouched", async () => {
  const { vm, paths } = await fx.launch({ spec: { startPaused: true } });
  const err = await VmProcess.launch(await fx.spec({ startPaused: true }), paths).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(VmAlreadyRunningError);
  await expect(vm.qmp.queryStatus()).resolves.toMatchObject({ status: "prelaunch" });
});

test("start-up errors are reported verbatim and leave nothing behind", async () => {
  const dir = await fx.tempDir();
  const paths = vmPaths(join(dir, "run"));
  const spec = await fx.spec({ kernel: join(dir, "no-such-vmlinux") });
  await prepareVmPaths(paths);
  await fx.writeGuestConfig(paths);
  const err = await VmProcess.launch(spec, paths).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(VmStartError);
  expect((err as VmStartError).stderr).toContain(`could not open kernel file '${spec.kernel}'`);
  expect(existsSync(paths.pidFile)).toBe(false);
});

test("a deep data dir works through the short socket link", async () => {
  const deep = join(await fx.tempDir(), "a-rather-long-data-directory-name".repeat(3), "instances", "0123456789abcdef", "run");
  const { vm, paths } = await fx.launch({ runDir: deep, spec: { startPaused: true } });
  expect(paths.shortLink).not.toBeNull();
  expect(paths.qmpSocket.length).toBeLessThanOrEqual(107);
  await expect(vm.qmp.queryVersion()).resolves.toMatchObject({ qemu: { major: expect.any(Number) } });
  await vm.kill();
  expect(existsSync(paths.shortLink as string)).toBe(false);
});

test("host port forwards are added and removed at run time (HMP through typed methods)", async () => {
  const boot = await pickFreePort("tcp", new Set());
  const { vm } = await fx.launch({ spec: { startPaused: true, nic: { mac: "52:54:00:12:34:56", forwards: [{ protocol: "tcp", hostPort: boot, guestPort: 80 }] } } });
  const extra = { protocol: "tcp" as const, hostPort: await pickFreePort("tcp", new Set([boot])), guestPort: 8080 };
  await vm.qmp.hostfwdAdd(NETDEV_ID, hostfwdRule(extra));
  // QEMU now listens on the host port.
  expect(await isPortFree(extra.hostPort, "tcp")).toBe(false);
  await expect(vm.qmp.hostfwdAdd(NETDEV_ID, hostfwdRule({ ...extra, guestPort: 81 }))).rejects.toThrow(/Could not set up host forwarding rule/);
  await vm.qmp.hostfwdRemove(NETDEV_ID, hostfwdRemoveRule(extra));
  expect(await isPortFree(extra.hostPort, "tcp")).toBe(true);
  await expect(vm.qmp.hostfwdRemove(NETDEV_ID, hostfwdRemoveRule(extra))).rejects.toThrow(/not found/);
  // The forward given at launch is removable the same way.
  await vm.qmp.hostfwdRemove(NETDEV_ID, hostfwdRemoveRule({ protocol: "tcp", hostPort: boot }));
});

test("a virtio-blk disk hot-plugged into a running guest appears with its serial, and unplugs", async () => {
  const dir = await fx.tempDir();
  const disk = { id: "hot1", file: join(dir, "hot1.qcow2"), readonly: false, serial: "vol-hot1" };
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", disk.file, "16M"]);
  const watch = 'while :; do for f in /sys/block/vd*/serial; do [ -r "$f" ] && echo "seen-serial=$(cat $f)" && exec sleep 600; done; sleep 0.2; done';
  const { vm } = await fx.launch({ guest: { args: ["sh", "-c", watch] } });
  await vm.waitForSerial(READY_MARKER, { timeoutMs: BOOT_MS });

  await vm.qmp.blockdevAdd(diskBlockdev(disk));
  await vm.qmp.deviceAdd(diskDevice(disk, freePciSlot(new Set())));
  const seen = await vm.waitForSerial(/seen-serial=(\S+)/, { timeoutMs: 30_000 });
  expect(seen.match[1]).toBe("vol-hot1");
  const nodes = await vm.qmp.queryNamedBlockNodes();
  expect(nodes.map((n) => n["node-name"])).toEqual(expect.arrayContaining([diskNames("hot1").node, diskNames("hot1").fileNode]));

  const deleted = vm.monitor.waitForEvent("DEVICE_DELETED", (ev) => ev.data.device === diskNames("hot1").deviceId, 30_000);
  await vm.qmp.deviceDel(diskNames("hot1").deviceId);
  await deleted;
  await vm.qmp.blockdevDel(diskNames("hot1").node);
});

test("the branch flow: shared-file source, x-ignore-shared device state, private-file branch continues", async () => {
  const shm = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "vmb-test-ram-"));
  fx.defer(`remove ${shm}`, () => rm(shm, { recursive: true, force: true }));
  const ram = join(shm, "ram");
  const frozen = join(shm, "ram.frozen");
  const devstate = join(shm, "devstate");
  const counter = 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done';
  const src = await fx.launch({ spec: { memory: { kind: "shared-file", path: ram } }, guest: { args: ["sh", "-c", counter] } });
  await src.vm.waitForSerial(/tick 3\b/, { timeoutMs: BOOT_MS });

  const paused = Date.now();
  await src.vm.qmp.stop();
  await src.vm.qmp.migrateSetCapabilities({ "x-ignore-shared": true });
  await src.vm.qmp.migrate(`file:${devstate}`);
  while ((await src.vm.qmp.queryMigrate()).status !== "completed") await new Promise((r) => setTimeout(r, 2));
  const lastTick = Math.max(...[...readFileSync(src.paths.serialLog, "utf8").matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
  await copyFile(ram, frozen);
  const frozenBytes = readFileSync(frozen);
  await src.vm.qmp.cont();
  const pauseMs = Date.now() - paused;

  const t0 = Date.now();
  const branch = await fx.launch({
    spec: { memory: { kind: "private-file", path: frozen }, incoming: "defer", startPaused: true },
    guest: { args: ["sh", "-c", "echo this config is never read: the guest resumes"] },
  });
  await branch.vm.qmp.migrateSetCapabilities({ "x-ignore-shared": true });
  await branch.vm.qmp.migrateIncoming(`file:${devstate}`);
  for (;;) {
    const st = await branch.vm.qmp.queryMigrate();
    if (st.status === "completed") break;
    if (st.status === "failed") throw new Error(`incoming migration failed: ${st["error-desc"]}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  await branch.vm.qmp.cont();
  const runningMs = Date.now() - t0;
  console.log(`branch flow: source paused ${pauseMs} ms (incl. copying the RAM file), branch running ${runningMs} ms after launch`);

  const first = await branch.vm.waitForSerial(/tick (\d+)/, { timeoutMs: 30_000 });
  // The branch continues the source's counter instead of booting from scratch.
  expect(Number(first.match[1])).toBeGreaterThan(lastTick);
  expect(readFileSync(branch.paths.serialLog, "utf8")).not.toContain(READY_MARKER);
  // The frozen file is never written although the branch runs on it: a private, read-only mapping.
  expect(readFileSync(frozen).equals(frozenBytes)).toBe(true);
});
