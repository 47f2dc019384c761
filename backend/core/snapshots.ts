/**
 * Snapshots: point-in-time copies of an instance — frozen disk layers and, with memory, a RAM
 * image plus device state. Taken live for branches (the source pauses for milliseconds), taken
 * with the VM stopped for suspend, kept by standby instances and templates, and freed by the
 * last user. Also freezes volumes a running VM writes (through that VM, never by copying a live file).
 */
import { join } from "node:path";
import { failpoint } from "../host/failpoints";
import { DiskSwitchError, type DiskFreeze, type QuiesceMode, type SnapshotFiles } from "../host/vm-driver";
import type { DiskRecord, FreezeIntent, InstanceRecord, SnapshotDiskRecord, SnapshotRecord } from "../store/records";
import { whileUnavailable } from "./background";
import { requireCapacity, snapshotNeed } from "./capacity";
import { on, type CoreContext } from "./context";
import type { Disks } from "./disks";
import { ApiError } from "./errors";
import { hostError } from "./host-errors";
import { diskIdOf, newUuid, now } from "./identity";
import { Journal } from "./journal";
import { BACKGROUND_LOCK_WAIT_MS, instanceKey, volumeKey } from "./locks";
import type { Runtime } from "./runtime";

/**
 * What a snapshot takes after its RAM copy: the loader writing the device state and the record
 * made ready (tens of milliseconds on the test host).
 */
const SNAPSHOT_END_MS = 30;
/** Bounds of a retry hint: never a busy loop, never longer than the client's own longest backoff step. */
const RETRY_HINT_MIN_MS = 10;
const RETRY_HINT_MAX_MS = 2_000;

/** A snapshot of a running instance whose point in time is fixed. */
export interface TakenSnapshot {
  snapshot: SnapshotRecord;
  /** Settles when the RAM copy is complete (the snapshot is then `ready`). */
  completed: Promise<void>;
}

/** Snapshot bookkeeping and the freezes behind it. */
export class Snapshots {
  /** Sources with a snapshot in progress (the reference's "pending snapshot"). */
  private readonly pending = new Set<string>();
  /** For sources whose live snapshot is copying its RAM: how long the copy should still take. */
  private readonly copyEtas = new Map<string, () => Promise<number | null>>();
  private readonly journal: Journal;

  constructor(
    private readonly ctx: CoreContext,
    private readonly runtime: Runtime,
    private readonly disks: Disks,
  ) {
    this.journal = new Journal(ctx);
  }

  /** True while `uuid` has a snapshot in progress. */
  isPending(uuid: string): boolean {
    return this.pending.has(uuid);
  }

  /** Mark `uuid` as having a snapshot in progress; false when it already has one. Synchronous, so checks cannot race. */
  claim(uuid: string): boolean {
    if (this.pending.has(uuid)) return false;
    this.pending.add(uuid);
    return true;
  }

  /** End the pending state of `uuid`. */
  unclaim(uuid: string): void {
    this.pending.delete(uuid);
    this.copyEtas.delete(uuid);
  }

  /**
   * When to ask again for a snapshot of `uuid`, which has one in progress: the time its RAM copy
   * should still take at QEMU's pace so far, plus what ends a snapshot after its copy; undefined
   * when that cannot be told (the snapshot is not copying yet). A hint for the client's retry
   * (`retry-after-ms`), so branches requested back to back follow each other without waiting on
   * a backoff that overshoots.
   */
  async retryAfterMs(uuid: string): Promise<number | undefined> {
    const eta = await this.copyEtas.get(uuid)?.().catch(() => null);
    if (eta === null || eta === undefined || !this.pending.has(uuid)) return undefined;
    return Math.min(RETRY_HINT_MAX_MS, Math.max(RETRY_HINT_MIN_MS, eta + SNAPSHOT_END_MS));
  }

  /** Files of snapshot `uuid`. */
  files(uuid: string): SnapshotFiles {
    return { ramPath: join(this.ctx.config.ramDir, `${uuid}.ram`), devstatePath: join(this.ctx.config.snapshotsDir, `${uuid}.devstate`) };
  }

  /** Block volumes attached to `inst` with their current head disks, in device order. */
  blockDisks(inst: InstanceRecord): { position: number; volumeUuid: string; at: string; readonly: boolean; head: DiskRecord }[] {
    const store = this.ctx.store;
    return store.attachments
      .ofInstance(inst.uuid)
      .map((a) => ({ a, v: store.volumes.get({ uuid: a.volumeUuid })! }))
      .filter(({ v }) => v.kind === "block")
      .map(({ a, v }) => ({ position: a.position, volumeUuid: v.uuid, at: a.at, readonly: a.readonly, head: this.disks.get(v.headDisk!) }));
  }

  /**
   * Snapshot running `inst` for branching: its read-write disks are frozen (the VM continues on
   * new overlays) and its RAM and device state are copied, all at one instant. Caller holds the
   * instance lock and has claimed it.
   */
  async takeLive(inst: InstanceRecord, purpose: SnapshotRecord["purpose"] = "branch", quiesce: QuiesceMode = "auto"): Promise<TakenSnapshot> {
    const handle = this.runtime.handle(inst.uuid);
    if (!handle) throw new ApiError("INVALID_STATE", `Instance '${inst.name}' has no running VM`);
    await requireCapacity(this.ctx, inst.host, snapshotNeed(inst.memoryMb), `snapshot the memory of instance '${inst.name}'`);
    const uuid = newUuid();
    const files = this.files(uuid);
    const disks = this.blockDisks(inst);
    const intents = await this.overlaysFor(inst, disks.filter((d) => !d.readonly));
    const freezes: DiskFreeze[] = intents.map((i) => ({ diskId: i.diskId, overlayPath: i.overlay.path }));
    // From the transaction on, the source writes its overlays: the journal says so before it can happen.
    const op = await this.openFreeze(inst, uuid, intents);
    let live;
    try {
      live = await handle.snapshot(freezes, files, quiesce);
    } catch (err) {
      await this.settleFreeze(op, inst, intents, err);
      await this.removeFiles(files, inst.host);
      throw hostError(err, `Snapshot of instance '${inst.name}' failed`, this.ctx.log);
    }
    try {
      await failpoint("snapshot.after-capture");
    } catch (err) {
      // The disks switched: record the freeze; the memory copy is of no use, its files go once it ends.
      await this.settleFreeze(op, inst, intents, new DiskSwitchError((err as Error).message, intents.map((i) => i.diskId)));
      void live.completed.catch(() => undefined).then(() => this.removeFiles(files, inst.host));
      throw hostError(err, `Snapshot of instance '${inst.name}' failed`, this.ctx.log);
    }
    const snapshot: SnapshotRecord = {
      uuid, sourceUuid: inst.uuid, sourceName: inst.name, purpose, state: "pending", hasMemory: true,
      ramPath: files.ramPath, devstatePath: files.devstatePath,
      machine: { ...this.runtime.machineOf(inst, inst.accelerator ?? "tcg", handle.vmgenid, handle.machineType), guestAgent: handle.guestAgent, quiesced: live.diskSwitch === "guest-frozen" },
      pauseMs: live.pauseMs, createdAt: live.takenAt.toISOString(), host: inst.host,
    };
    // The source writes its overlays now, whatever the database does: the freeze is recorded once it can be.
    await this.journal.finish(op, `recording the snapshot ${uuid} of instance ${inst.uuid}`, () => {
      intents.forEach((i) => this.disks.commitFreeze(i.volumeUuid, i.headId, i.overlay));
      this.ctx.store.snapshots.insert(snapshot);
      disks.forEach((d) => this.ctx.store.snapshotDisks.insert(this.diskRow(uuid, d)));
    });
    if (this.pending.has(inst.uuid)) this.copyEtas.set(inst.uuid, live.copyEta);
    const copy = live.completed;
    const completed = (async () => {
      try {
        await failpoint("snapshot.after-commit");
      } catch (err) {
        // Failing on purpose does not stop the copy: wait for it, so no file is written after the snapshot is freed.
        await copy.catch(() => undefined);
        throw err;
      }
      await copy;
      await failpoint("snapshot.before-ready");
    })().then(
      () => this.ctx.store.snapshots.update({ uuid }, { state: "ready" }),
      (err: Error) => {
        this.ctx.store.snapshots.update({ uuid }, { state: "failed" });
        throw hostError(err, `Snapshot of instance '${inst.name}' failed while copying memory`, this.ctx.log);
      },
    );
    this.ctx.log.info({ instance: inst.uuid, snapshot: uuid, pauseMs: live.pauseMs, diskSwitch: live.diskSwitch, frozenMs: live.frozenMs, quiesceSkipped: live.quiesceSkipped }, "live snapshot taken");
    return { snapshot, completed };
  }

  /** New overlay files over the heads of `disks` (all or none: a failure removes the ones made). */
  private async overlaysFor(inst: InstanceRecord, disks: { position: number; volumeUuid: string; head: DiskRecord }[]): Promise<FreezeIntent[]> {
    const made = await Promise.allSettled(disks.map((d) => this.disks.createOverlayFile(d.head.id)));
    const failed = made.find((m) => m.status === "rejected");
    if (failed) {
      await Promise.all(made.map((m) => (m.status === "fulfilled" ? this.disks.removeFile(m.value) : undefined)));
      throw hostError(failed.reason, `Could not create the disk overlays of instance '${inst.name}'`, this.ctx.log);
    }
    return disks.map((d, i) => ({
      volumeUuid: d.volumeUuid, headId: d.head.id, diskId: diskIdOf(d.position), overlay: (made[i] as PromiseFulfilledResult<DiskRecord>).value,
    }));
  }

  /** Open the journal entry of a live freeze; if that fails, the overlay files made for it go. */
  private async openFreeze(inst: InstanceRecord, snapshotUuid: string | null, intents: FreezeIntent[]): Promise<string> {
    try {
      return this.journal.open({ kind: "live-freeze", instanceUuid: inst.uuid, snapshotUuid, freezes: intents });
    } catch (err) {
      for (const i of intents)
        await this.disks.removeFile(i.overlay).catch((e: Error) => this.ctx.log.error({ instance: inst.uuid, file: i.overlay.path, err: e.message }, "could not remove an unused overlay"));
      throw err;
    }
  }

  /**
   * After a failed live freeze: the disks QEMU switched (or may have) are recorded as frozen with
   * their overlays as new heads (roll forward: the running VM writes them); the other overlays
   * are deleted after that commit. Closes the journal entry `op`.
   */
  async settleFreeze(op: string, inst: InstanceRecord, intents: FreezeIntent[], err: unknown): Promise<void> {
    const switched = new Set(err instanceof DiskSwitchError ? err.switched : []);
    const forward = intents.filter((i) => switched.has(i.diskId));
    const back = intents.filter((i) => !switched.has(i.diskId));
    await this.journal.finish(op, `recording the failed freeze of instance ${inst.uuid}`, () => forward.forEach((i) => this.disks.commitFreeze(i.volumeUuid, i.headId, i.overlay)));
    if (forward.length > 0)
      this.ctx.log.warn({ instance: inst.uuid, disks: forward.map((i) => i.diskId), err: (err as Error).message }, "freeze failed after the disk switch; the switch is recorded and the overlays kept");
    for (const i of back)
      await this.disks.removeFile(i.overlay).catch((e: Error) => this.ctx.log.error({ instance: inst.uuid, file: i.overlay.path, err: e.message }, "could not remove an unused overlay"));
  }

  private diskRow(snapshotUuid: string, d: { position: number; volumeUuid: string; at: string; readonly: boolean; head: DiskRecord }): SnapshotDiskRecord {
    return { snapshotUuid, volumeUuid: d.volumeUuid, diskId: d.head.id, at: d.at, readonly: d.readonly, position: d.position };
  }

  /**
   * Freeze the read-write heads of a stopped or standby instance offline and record a snapshot
   * of them (no memory). Standby instances already hold a memory snapshot: its disk rows point
   * at these same heads, which become the frozen layers. Caller holds the instance lock.
   */
  async freezeStopped(inst: InstanceRecord): Promise<Map<string, string>> {
    const frozen = new Map<string, string>();
    for (const d of this.blockDisks(inst)) {
      frozen.set(d.volumeUuid, d.readonly ? d.head.id : await this.disks.freezeOffline(d.volumeUuid, d.head.id));
    }
    return frozen;
  }

  /** Freeze one volume head that running instance `inst` has open read-write; returns the frozen layer id. */
  async freezeLiveVolume(inst: InstanceRecord, volumeUuid: string): Promise<string> {
    const handle = this.runtime.handle(inst.uuid);
    const d = this.blockDisks(inst).find((x) => x.volumeUuid === volumeUuid);
    if (!handle || !d) throw new ApiError("INVALID_STATE", `Volume is not open in a running VM of instance '${inst.name}'`);
    const intents = await this.overlaysFor(inst, [d]);
    const intent = intents[0]!;
    const op = await this.openFreeze(inst, null, intents);
    try {
      await handle.freezeDisks([{ diskId: intent.diskId, overlayPath: intent.overlay.path }]);
    } catch (err) {
      await this.settleFreeze(op, inst, intents, err);
      throw hostError(err, `Could not snapshot volume through instance '${inst.name}'`, this.ctx.log);
    }
    await this.journal.finish(op, `recording the freeze of volume ${volumeUuid}`, () => this.disks.commitFreeze(volumeUuid, d.head.id, intent.overlay));
    return d.head.id;
  }

  /**
   * Flatten, in the background, the heads of `inst` whose backing chains grew deeper than the
   * bound (a branch of a branch of …): through its VM when it runs, offline otherwise. Holds the
   * instance lock and the locks of its volumes, whose chains it rewrites: snapshots of the
   * instance and clones or templates of a volume wait for the copy rather than racing it (a clone
   * that froze the head and was making its overlay on the old head saw that layer freed under it).
   */
  flattenDeepChains(instanceUuid: string): void {
    const keys = () => [instanceKey(instanceUuid), ...this.ctx.store.attachments.ofInstance(instanceUuid).map((a) => volumeKey(a.volumeUuid))];
    void this.ctx.locks
      .withChecked(keys, async () => {
        const inst = this.ctx.store.instances.get({ uuid: instanceUuid });
        if (!inst) return;
        const handle = this.runtime.handle(instanceUuid);
        for (const d of this.blockDisks(inst)) {
          if (d.readonly || !this.disks.isDeep(d.head.id)) continue;
          if (!handle && inst.state !== "stopped") continue;
          await this.disks.flatten(d.head.id, handle ? () => handle.flattenDisk(diskIdOf(d.position)) : undefined);
          this.ctx.log.info({ instance: instanceUuid, volume: d.volumeUuid, depth: d.head.depth, online: Boolean(handle) }, "flattened a deep backing chain");
        }
      }, { timeoutMs: BACKGROUND_LOCK_WAIT_MS })
      .catch((err: Error) => this.ctx.log.warn({ instance: instanceUuid, err: err.message }, "flattening failed; the chain stays deep"));
  }

  /** Suspend running `inst`: save its state with the VM paused, end the VM, and hold the snapshot in standby. */
  async suspend(inst: InstanceRecord): Promise<void> {
    const handle = this.runtime.handle(inst.uuid);
    if (!handle) throw new ApiError("INVALID_STATE", `Instance '${inst.name}' has no running VM`);
    await requireCapacity(this.ctx, inst.host, snapshotNeed(inst.memoryMb), `suspend instance '${inst.name}'`);
    if (!this.claim(inst.uuid)) throw new ApiError("INVALID_STATE", `Instance '${inst.name}' has a snapshot in progress`);
    const uuid = newUuid();
    const files = this.files(uuid);
    try {
      const disks = this.blockDisks(inst);
      // Record standby first so the exit of the VM is not mistaken for a stop.
      const snapshot: SnapshotRecord = {
        uuid, sourceUuid: inst.uuid, sourceName: inst.name, purpose: "standby", state: "pending", hasMemory: true,
        ramPath: files.ramPath, devstatePath: files.devstatePath,
        machine: { ...this.runtime.machineOf(inst, inst.accelerator ?? "tcg", handle.vmgenid, handle.machineType), guestAgent: handle.guestAgent }, pauseMs: null, createdAt: now(), host: inst.host,
      };
      const op = this.ctx.store.tx(() => {
        this.ctx.store.snapshots.insert(snapshot);
        disks.forEach((d) => this.ctx.store.snapshotDisks.insert(this.diskRow(uuid, d)));
        return this.journal.open({ kind: "suspend", instanceUuid: inst.uuid, snapshotUuid: uuid });
      });
      this.runtime.setState(inst.uuid, { state: "stopping" });
      this.runtime.forget(inst.uuid);
      try {
        await handle.saveAndQuit(files);
      } catch (err) {
        this.ctx.store.tx(() => this.journal.close(op));
        await this.release(uuid);
        this.runtime.adopt(inst.uuid, handle, false);
        this.runtime.setState(inst.uuid, { state: "running" });
        throw hostError(err, `Suspend of instance '${inst.name}' failed`, this.ctx.log);
      }
      // The VM is gone and its state saved: from here on standby is the truth, whatever fails.
      await failpoint("suspend.after-save").catch((err: Error) => this.ctx.log.error({ instance: inst.uuid, err: err.message }, "suspend: a failure after the save; recording standby"));
      const stoppedAt = now();
      await this.journal.finish(op, `recording the suspend of instance ${inst.uuid}`, () => {
        this.ctx.store.snapshots.update({ uuid }, { state: "ready" });
        this.runtime.setState(inst.uuid, { state: "standby", snapshotUuid: uuid, pid: null, stoppedAt, stopReason: "suspended" });
      });
      await handle.exited;
    } finally {
      this.unclaim(inst.uuid);
    }
  }

  /** Free snapshot `uuid` unless an instance still holds it: its files, rows and the disk layers only it kept. */
  async release(uuid: string): Promise<void> {
    // Counted as a release from the start: from the rows' removal until the loop below, layers
    // only this snapshot kept have no reference yet are still there, which the doctor must not
    // take for a leak.
    await this.disks.whileReleasing(async () => {
      // Waits out a database that is down: the caller dropped its reference already, and once the
      // rows go, only this call knows the layers to release.
      let disks: SnapshotDiskRecord[] | null = null;
      let host: string | null | undefined;
      const gone = await whileUnavailable(this.ctx.log, `releasing snapshot ${uuid}`, () => {
        // Gone on a retry: the removal went through but its answer was lost.
        const snap = this.ctx.store.snapshots.get({ uuid });
        if (!snap) return disks !== null;
        if (this.ctx.store.snapshotReferences(uuid) > 0) return false;
        host = snap.host;
        disks = this.ctx.store.snapshotDisks.ofSnapshot(uuid);
        this.ctx.store.snapshots.remove(uuid);
        return true;
      });
      if (!gone || disks === null) return;
      const layers: SnapshotDiskRecord[] = disks;
      await failpoint("snapshot.after-release-rows").catch((err: Error) => this.ctx.log.error({ snapshot: uuid, err: err.message }, "a failure after a snapshot's rows were deleted; releasing its files"));
      await this.removeFiles(this.files(uuid), host);
      for (const d of layers) await this.disks.release(d.diskId);
    });
  }

  /** Remove the files of a snapshot on host `host` (also of one that never got its row). */
  async removeFiles(files: SnapshotFiles, host: string | null | undefined): Promise<void> {
    const storage = on(this.ctx, host).storage;
    // Unlinking the RAM file is safe while restored VMs run: their private mappings keep the pages.
    await storage.remove(files.ramPath);
    await storage.remove(files.devstatePath);
  }
}
