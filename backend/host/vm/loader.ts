/**
 * The snapshot "loader": a QEMU that never runs a guest. It receives a VM's state over a unix
 * socket into a RAM file mapped MAP_SHARED, then writes only the device state (x-ignore-shared)
 * to a file. What it leaves is a frozen RAM image that restored VMs map copy-on-write, plus the
 * device state they load — N restores share the image's pages instead of holding N copies.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { VmProcess } from "../qemu/vm-process";
import { prepareVmPaths, removeVmPaths, vmPaths } from "../qemu/vm-paths";
import { renderGuestConfig } from "../images/guest-config";
import { writeFile } from "node:fs/promises";
import type { SnapshotFiles, VmLaunchSpec } from "../vm-driver";
import { completed, waitMigration } from "./migration";
import { toVmSpec } from "./spec-mapping";

/** A started loader waiting for an incoming migration on `uri`. */
export interface Loader {
  uri: string;
  /** Wait for the incoming state, write the device state, end the loader. */
  finish(files: SnapshotFiles, timeoutMs: number): Promise<void>;
  /** End the loader and remove its files (on failure). */
  abort(): Promise<void>;
}

/** Start a loader for a VM launched with `spec`, whose disks are now the files in `disks`. */
export async function startLoader(spec: VmLaunchSpec, ramPath: string, disks: { id: string; file: string }[]): Promise<Loader> {
  const uuid = randomUUID();
  const paths = vmPaths(join(dirname(spec.runDir), `.loader-${uuid}`));
  // Unix socket paths are short-limited; the temp dir keeps this one well under the limit.
  const sock = join(tmpdir(), `vmb-mig-${randomBytes(6).toString("hex")}.sock`);
  const vmSpec = toVmSpec(spec, { kind: "loader", ramPath, disks }, uuid);
  let proc: VmProcess | null = null;
  const abort = async () => {
    if (proc) await proc.kill().catch(() => undefined);
    await removeVmPaths(paths).catch(() => undefined);
    await rm(sock, { force: true });
  };
  try {
    await rm(paths.runDir, { recursive: true, force: true });
    await prepareVmPaths(paths);
    await writeFile(paths.guestConfig, renderGuestConfig(spec.guest));
    proc = await VmProcess.launch(vmSpec, paths);
    await proc.qmp.migrateIncoming(`unix:${sock}`);
  } catch (err) {
    await abort();
    throw err;
  }
  const loader = proc;
  return {
    uri: `unix:${sock}`,
    abort,
    async finish(files, timeoutMs) {
      try {
        await waitMigration(loader.qmp, completed, { timeoutMs, pollMs: 5, what: "snapshot transfer to the loader" });
        await loader.qmp.migrateSetCapabilities({ "x-ignore-shared": true });
        await loader.qmp.migrate(`file:${files.devstatePath}`);
        await waitMigration(loader.qmp, completed, { timeoutMs, pollMs: 2, what: "device state save" });
        await loader.kill();
      } finally {
        await abort();
      }
    },
  };
}
