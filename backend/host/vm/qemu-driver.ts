/**
 * The QEMU implementation of `VmDriver`: launches VMs that outlive the service (cold boots, or restores that
 * map a snapshot's RAM image copy-on-write and load its device state), and finds them again
 * after a restart of the service. The launch spec is kept in the run directory so a reattached
 * VM can still be snapshotted.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderGuestConfig } from "../images/guest-config";
import { VmProcess } from "../qemu/vm-process";
import { prepareVmPaths, vmPaths } from "../qemu/vm-paths";
import type { VmDriver, VmHandle, VmLaunchSpec } from "../vm-driver";
import { completed, waitMigration } from "./migration";
import { QemuHandle } from "./qemu-handle";
import { toVmSpec } from "./spec-mapping";

const SPEC_FILE = "launch-spec.json";

interface StoredSpec {
  spec: VmLaunchSpec;
  launchedAt: number;
  warm: boolean;
}

/** Options of the QEMU driver. */
export interface QemuDriverOptions {
  /** Serial console bytes kept per VM (console-log.ts). */
  consoleLogMaxBytes: number;
}

/** VmDriver on QEMU. */
export class QemuDriver implements VmDriver {
  constructor(private readonly opts: QemuDriverOptions) {}

  async launch(spec: VmLaunchSpec): Promise<VmHandle> {
    const paths = vmPaths(spec.runDir);
    await prepareVmPaths(paths);
    await writeFile(paths.guestConfig, renderGuestConfig(spec.guest));
    const launchedAt = Date.now();
    const warm = spec.memory.kind === "snapshot";
    await writeFile(join(spec.runDir, SPEC_FILE), JSON.stringify({ spec, launchedAt, warm } satisfies StoredSpec));
    const mode = spec.memory.kind === "snapshot" ? { kind: "restore" as const, ramPath: spec.memory.ramPath } : { kind: "boot" as const };
    const proc = await VmProcess.launch(toVmSpec(spec, mode), paths);
    if (spec.memory.kind === "snapshot") {
      try {
        await proc.qmp.migrateSetCapabilities({ "x-ignore-shared": true });
        await proc.qmp.migrateIncoming(`file:${spec.memory.devstatePath}`);
        await waitMigration(proc.qmp, completed, { timeoutMs: 60_000, pollMs: 1, what: "restore of the device state" });
        // Off again, so this VM can itself be snapshotted (branch of a branch).
        await proc.qmp.migrateSetCapabilities({ "x-ignore-shared": false });
        await proc.qmp.cont();
      } catch (err) {
        await proc.kill().catch(() => undefined);
        throw err;
      }
    }
    return new QemuHandle(proc, spec, launchedAt, warm, this.opts.consoleLogMaxBytes);
  }

  async attach(uuid: string, runDir: string): Promise<VmHandle | null> {
    const stored = await readFile(join(runDir, SPEC_FILE), "utf8").then((t) => JSON.parse(t) as StoredSpec).catch(() => null);
    if (!stored) return null;
    const proc = await VmProcess.attach(vmPaths(runDir), { uuid });
    if (!proc) return null;
    return new QemuHandle(proc, stored.spec, stored.launchedAt, stored.warm, this.opts.consoleLogMaxBytes);
  }
}
