/**
 * The snapshot "loader": a QEMU that never runs a guest. It receives a VM's state over a unix
 * socket into a RAM file mapped MAP_SHARED, then writes only the device state (x-ignore-shared)
 * to a file. What it leaves is a frozen RAM image that restored VMs map copy-on-write, plus the
 * device state they load — N restores share the image's pages instead of holding N copies.
 * A loader handles its source's memory, so it runs as its source does: same uid, in a jail inside
 * the source's jail, where it listens (the only place the jailed source can reach it) and writes
 * the device state, which is then moved to its place outside and given back to the service.
 */
import { randomUUID } from "node:crypto";
import { chmod, chown, lstat, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { confineProcess, type ConfinementRecord, type HostConfinement, type ProcessConfinement } from "../confinement/confinement";
import { insideJail, nestedJail, type Jail } from "../confinement/jail";
import { failpoint } from "../failpoints";
import { renderGuestConfig } from "../images/guest-config";
import { VmProcess } from "../qemu/vm-process";
import { prepareVmPaths, removeVmPaths, vmPaths } from "../qemu/vm-paths";
import type { SnapshotFiles, VmLaunchSpec } from "../vm-driver";
import { completed, waitMigration } from "./migration";
import { toVmSpec } from "./spec-mapping";

/** Prefix of a loader's run directory, beside the VMs' own. */
export const LOADER_DIR_PREFIX = ".loader-";
/** The file in a loader's run directory that records its confinement. */
export const LOADER_RECORD = "loader-confinement.json";
/** Prefix of a loader's jail inside its source's jail. */
export const LOADER_JAIL_PREFIX = "loader-";

/** Loaders this process runs now: the sweep (leftovers.ts) never takes one of them for a leftover. */
export const activeLoaders = new Set<string>();

/** A started loader waiting for an incoming migration on `uri`. */
export interface Loader {
  /** The migration URI as the source QEMU sees it. */
  uri: string;
  /** Wait for the incoming state, write the device state, end the loader. */
  finish(files: SnapshotFiles, timeoutMs: number): Promise<void>;
  /** End the loader and remove its files (on failure). */
  abort(): Promise<void>;
}

/** Where a loader meets its source. */
interface Rendezvous {
  /** The loader's jail (inside the source's), or null when the source is not jailed. */
  jail: Jail | null;
  /** The socket on the host, as the loader names it, and as the source names it. */
  socket: { host: string; loader: string; source: string };
}

/**
 * Start a loader for a VM launched with `spec`, whose disks are now the files in `disks`;
 * `sourceJail` is the source's jail (null when it runs unjailed).
 */
export async function startLoader(
  spec: VmLaunchSpec,
  ramPath: string,
  disks: { id: string; file: string }[],
  host: HostConfinement,
  sourceJail: Jail | null,
): Promise<Loader> {
  const uuid = randomUUID();
  const paths = vmPaths(join(dirname(spec.runDir), `${LOADER_DIR_PREFIX}${uuid}`));
  let confinement: ProcessConfinement | null = null;
  let proc: VmProcess | null = null;
  let meet: Rendezvous | null = null;
  activeLoaders.add(uuid);
  const abort = async () => {
    activeLoaders.delete(uuid);
    if (proc) await proc.kill().catch(() => undefined);
    await removeVmPaths(paths).catch(() => undefined);
    if (meet?.jail) await rm(meet.jail.root, { recursive: true, force: true });
    else if (meet) await rm(meet.socket.host, { force: true });
    await confinement?.release();
  };
  try {
    await rm(paths.runDir, { recursive: true, force: true });
    await prepareVmPaths(paths);
    await writeFile(paths.guestConfig, renderGuestConfig(spec.guest));
    const jail = sourceJail ? await nestedJail(sourceJail, `${LOADER_JAIL_PREFIX}${uuid.slice(0, 8)}`) : null;
    // Unjailed, the socket sits beside the QMP socket, which already fits the socket path limit.
    const hostSocket = join(jail?.root ?? dirname(paths.qmpSocket), "mig.sock");
    meet = {
      jail,
      socket: { host: hostSocket, loader: jail ? insideJail(jail, hostSocket) : hostSocket, source: sourceJail ? insideJail(sourceJail, hostSocket) : hostSocket },
    };
    confinement = await confineProcess(host, { name: uuid, runDir: paths.runDir, memoryMb: spec.memoryMb, ...(jail ? { jail } : { unjailed: true }) });
    // Its cgroup, for the sweep after a serve that died mid-snapshot (leftovers.ts); uid and jail are its source's.
    await writeFile(join(paths.runDir, LOADER_RECORD), JSON.stringify({ uid: null, jail: null, cgroupDirs: confinement.record.cgroupDirs } satisfies ConfinementRecord));
    const vmSpec = toVmSpec(spec, { kind: "loader", ramPath, disks }, { confine: confinement.runAs, sandbox: confinement.sandbox }, uuid);
    const c = confinement;
    proc = await VmProcess.launch(vmSpec, paths, { onSpawn: (pid) => c.enter(pid) });
    await proc.qmp.migrateIncoming(`unix:${meet.socket.loader}`);
    await failpoint("snapshot.loader-started");
  } catch (err) {
    await abort();
    throw err;
  }
  const loader = proc;
  const rendezvous = meet;
  return {
    uri: `unix:${rendezvous.socket.source}`,
    abort,
    async finish(files, timeoutMs) {
      try {
        await waitMigration(loader.qmp, completed, { timeoutMs, what: "snapshot transfer to the loader" });
        await loader.qmp.migrateSetCapabilities({ "x-ignore-shared": true });
        // A jailed loader writes into its jail; the file then moves out and back to the service.
        const written = rendezvous.jail ? join(rendezvous.jail.root, "devstate") : files.devstatePath;
        await loader.qmp.migrate(`file:${rendezvous.jail ? insideJail(rendezvous.jail, written) : written}`);
        await waitMigration(loader.qmp, completed, { timeoutMs, what: "device state save" });
        await loader.kill();
        if (written !== files.devstatePath) {
          await rename(written, files.devstatePath);
          // What the loader left is checked where it can no longer touch it: a plain file, or nothing.
          if (!(await lstat(files.devstatePath)).isFile()) {
            await rm(files.devstatePath, { force: true });
            throw new Error("the snapshot loader left something other than a device state file");
          }
          await chown(files.devstatePath, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
          await chmod(files.devstatePath, 0o600);
        }
      } finally {
        await abort();
      }
    },
  };
}
