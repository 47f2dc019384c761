/**
 * Test fixture for real QEMU guests (docs/testing.md, "Rules the tests follow"): every VM, temp dir
 * and undo step a test creates is registered and torn down in reverse order, so no QEMU process,
 * socket or temp file survives a test, even a failing one. After teardown it checks /proc for any
 * process still named after one of its VMs, kills it and fails loudly. Use `useVmFixture()` in a
 * test file.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderGuestConfig, type GuestConfig } from "../../backend/host/images";
import { VmProcess, type VmProcessOptions } from "../../backend/host/qemu/vm-process";
import { findVmProcesses, waitForPidGone } from "../../backend/host/qemu/vm-processes";
import { prepareVmPaths, removeVmPaths, vmPaths, type VmPaths } from "../../backend/host/qemu/vm-paths";
import type { VmSpec } from "../../backend/host/qemu/vm-spec";
import { probeQemuMachine, type QemuMachine } from "../../backend/host/qemu/machine-types";
import { baseImage, testAccelerator } from "./vm-image";

/** The pinned machine type, probed once per test file. */
let machine: Promise<QemuMachine> | undefined;

/** A VM the fixture launched. */
export interface TestVm {
  vm: VmProcess;
  spec: VmSpec;
  paths: VmPaths;
}

/** What `launch` accepts: parts of the spec and of the guest configuration. */
export interface TestVmOptions {
  spec?: Partial<VmSpec>;
  guest?: Partial<GuestConfig>;
  /** Run directory (default a new temp dir). */
  runDir?: string;
  process?: VmProcessOptions;
}

/** Registers resources and tears them down in reverse. */
export class VmFixture {
  private undo: { label: string; fn: () => Promise<unknown> }[] = [];
  private readonly uuids = new Set<string>();

  /** Registers an undo step (run in reverse order at teardown). */
  defer(label: string, fn: () => Promise<unknown>): void {
    this.undo.push({ label, fn });
  }

  /** A new temp dir, removed at teardown. */
  async tempDir(prefix = "vmb-test-"): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.defer(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Registers a VM handle (e.g. one from VmProcess.attach) so teardown kills it. */
  adopt(vm: VmProcess): VmProcess {
    this.uuids.add(vm.uuid);
    this.defer(`kill VM ${vm.uuid}`, () => vm.kill());
    return vm;
  }

  /** A spec for the base image under this host's accelerator, with fresh identity. */
  async spec(over: Partial<VmSpec> = {}): Promise<VmSpec> {
    const image = await baseImage();
    const { accel } = await testAccelerator();
    machine ??= probeQemuMachine();
    return {
      uuid: randomUUID(),
      smbiosSerial: `vmb-test-${randomUUID().slice(0, 8)}`,
      vmgenid: randomUUID(),
      accel,
      machineType: (await machine).type,
      vcpus: 1,
      memoryMb: 256,
      memory: { kind: "anonymous" },
      kernel: image.kernel,
      initrd: image.initrd,
      cmdline: image.cmdline,
      disks: [],
      shares: [],
      nic: null,
      incoming: "none",
      startPaused: false,
      ...over,
    };
  }

  /** Writes the rendered guest configuration for `paths` (defaults: idle, no network). */
  async writeGuestConfig(paths: VmPaths, guest: Partial<GuestConfig> = {}): Promise<void> {
    const cfg: GuestConfig = { hostname: "vmb-test", args: [], env: {}, mounts: [], network: null, ...guest };
    await writeFile(paths.guestConfig, renderGuestConfig(cfg));
  }

  /** Launches a VM (registered for teardown before it starts, so a half-started one is cleaned too). */
  async launch(opts: TestVmOptions = {}): Promise<TestVm> {
    const spec = await this.spec(opts.spec);
    const paths = vmPaths(opts.runDir ?? join(await this.tempDir("vmb-vm-"), "run"));
    this.uuids.add(spec.uuid);
    this.defer(`remove run dir of ${spec.uuid}`, () => removeVmPaths(paths));
    await prepareVmPaths(paths);
    await this.writeGuestConfig(paths, opts.guest);
    const vm = await VmProcess.launch(spec, paths, opts.process);
    this.defer(`kill VM ${spec.uuid}`, () => vm.kill());
    return { vm, spec, paths };
  }

  /** Runs every undo step in reverse, then kills and reports any process still named after our VMs. */
  async teardown(): Promise<void> {
    const errors: string[] = [];
    for (const { label, fn } of this.undo.reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(`${label}: ${(err as Error).message}`);
      }
    }
    this.undo = [];
    const left = (await findVmProcesses()).filter((p) => this.uuids.has(p.uuid));
    for (const p of left) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone meanwhile */
      }
      await waitForPidGone(p.pid, 5_000);
      errors.push(`QEMU ${p.uuid} (pid ${p.pid}) outlived its test`);
    }
    this.uuids.clear();
    if (errors.length) throw new Error(`VM fixture teardown:\n  ${errors.join("\n  ")}`);
  }
}

/** A fixture torn down after each test of the calling file. */
export function useVmFixture(): VmFixture {
  const fx = new VmFixture();
  afterEach(() => fx.teardown());
  return fx;
}
