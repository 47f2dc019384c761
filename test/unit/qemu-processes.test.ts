// Recognising our QEMU processes from /proc: names, zombies, recycled pids.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, isVmProcess, readCmdline, readProcStat, uuidFromCmdline, waitForPidGone } from "../../backend/host/qemu/vm-processes";

const UUID = "0b6a3c1e-5d2f-4b8a-9c7e-1f2a3b4c5d6e";

test("uuidFromCmdline reads -name vmbranch-<uuid>, with or without options", () => {
  expect(uuidFromCmdline(["qemu-system-x86_64", "-name", `vmbranch-${UUID}`, "-m", "256M"])).toBe(UUID);
  expect(uuidFromCmdline(["qemu", "-name", `vmbranch-${UUID},debug-threads=on`])).toBe(UUID);
  expect(uuidFromCmdline(["qemu", "-name", "other-vm"])).toBeNull();
  expect(uuidFromCmdline(["qemu", "-name"])).toBeNull();
  expect(uuidFromCmdline(["qemu", "-m", `vmbranch-${UUID}`])).toBeNull();
});

test("this process is alive but is not a VM", async () => {
  expect(await isAlive(process.pid)).toBe(true);
  expect(await isVmProcess(process.pid, UUID)).toBe(false);
  expect(await readCmdline(process.pid)).toEqual(expect.arrayContaining([expect.stringContaining("node")]));
  expect((await readProcStat(process.pid))?.startTime).toBeGreaterThan(0);
});

/** Starts `sh <script> args…` where the script sleeps: /proc shows exactly these arguments. */
async function fakeProcess(args: string[]): Promise<{ pid: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "vmb-proc-"));
  const script = join(dir, "fake-qemu");
  writeFileSync(script, "sleep 30\n");
  const child = spawn("sh", [script, ...args], { stdio: "ignore" });
  const exited = new Promise((r) => child.once("exit", r));
  while (!(await readCmdline(child.pid as number))?.includes(script)) await new Promise((r) => setTimeout(r, 5));
  return {
    pid: child.pid as number,
    stop: async () => {
      child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("a process named like the VM is recognised, and no longer once it is gone", async () => {
  const p = await fakeProcess(["-name", `vmbranch-${UUID}`, "-m", "256M"]);
  try {
    expect(await isVmProcess(p.pid, UUID)).toBe(true);
    // A recycled pid: alive, but named after another VM.
    expect(await isVmProcess(p.pid, "11111111-2222-4333-8444-555555555555")).toBe(false);
  } finally {
    await p.stop();
  }
  expect(await waitForPidGone(p.pid, 1000)).toBe(true);
  expect(await isVmProcess(p.pid, UUID)).toBe(false);
});

test("a process that mentions the name but not as -name is not the VM", async () => {
  const p = await fakeProcess(["-x", `vmbranch-${UUID}`]);
  try {
    expect(await isVmProcess(p.pid, UUID)).toBe(false);
  } finally {
    await p.stop();
  }
});

test("pids that cannot be VMs are refused without looking", async () => {
  expect(await isVmProcess(1, UUID)).toBe(false);
  expect(await isVmProcess(0, UUID)).toBe(false);
  expect(await isVmProcess(-5, UUID)).toBe(false);
  expect(await isAlive(2 ** 22 + 12345)).toBe(false);
});
