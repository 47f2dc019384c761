/**
 * Start-up recovery of the operation journal (journal.ts): each entry a dead serve left open is
 * rolled forward or back to a consistent state, from what the entry says and what QEMU reports.
 * Runs after the runtime reattached to the VMs that survived (and resumed the ones it had paused),
 * before anything else touches the store. Every step that fails is logged, never swallowed.
 */
import type { FreezeIntent, OperationRecord } from "../store/records";
import { on, type CoreContext } from "./context";
import type { Disks } from "./disks";
import { Journal } from "./journal";
import type { Runtime } from "./runtime";
import type { Snapshots } from "./snapshots";

/** Rolls open journal entries forward or back. */
export class Recovery {
  private readonly journal: Journal;

  constructor(
    private readonly ctx: CoreContext,
    private readonly runtime: Runtime,
    private readonly disks: Disks,
    private readonly snapshots: Snapshots,
  ) {
    this.journal = new Journal(ctx);
  }

  /** Settle every entry left open; returns how many there were. */
  async run(): Promise<number> {
    const open = this.journal.openEntries();
    for (const entry of open) {
      this.ctx.log.info({ operation: entry.id, kind: entry.kind, term: entry.epoch }, "settling an operation an earlier serve left open");
      try {
        if (entry.intent.kind === "live-freeze") await this.liveFreeze(entry, entry.intent.instanceUuid, entry.intent.freezes, entry.intent.snapshotUuid);
        else if (entry.intent.kind === "resize") await this.resize(entry, entry.intent.volumeUuid, entry.intent.sizeMb);
        else await this.suspend(entry, entry.intent.instanceUuid, entry.intent.snapshotUuid);
      } catch (err) {
        this.ctx.log.error({ operation: entry.id, kind: entry.kind, err: (err as Error).message }, "recovery of an interrupted operation failed; doctor reports what is left");
      }
    }
    return open.length;
  }

  /**
   * A live snapshot or volume freeze was interrupted. Each disk QEMU writes through its new
   * overlay is recorded as frozen with the overlay as head (roll forward); when the VM is gone,
   * keeping the overlay is right too (it is an empty layer over the head, or holds the writes made
   * after a switch). Only an overlay a live QEMU does not use is deleted (roll back). A memory
   * snapshot whose row was never written is discarded.
   */
  private async liveFreeze(entry: OperationRecord, instanceUuid: string, freezes: FreezeIntent[], snapshotUuid: string | null): Promise<void> {
    const store = this.ctx.store;
    const handle = this.runtime.handle(instanceUuid);
    const files = handle ? await handle.diskFiles().catch(() => null) : null;
    const forward: FreezeIntent[] = [];
    const back: FreezeIntent[] = [];
    for (const f of freezes) {
      const vol = store.volumes.get({ uuid: f.volumeUuid });
      const committed = vol?.headDisk === f.overlay.id;
      if (committed) continue;
      const used = !handle || files === null || files.some((d) => d.diskId === f.diskId && d.path === f.overlay.path);
      if (vol && vol.headDisk === f.headId && used && (await on(this.ctx, f.overlay.host).storage.exists(f.overlay.path))) forward.push(f);
      else back.push(f);
    }
    store.tx(() => {
      forward.forEach((f) => this.disks.commitFreeze(f.volumeUuid, f.headId, f.overlay));
      this.journal.close(entry.id);
    });
    for (const f of back) {
      if (handle) await handle.discardOverlay(f.overlay.path).catch((err: Error) => this.ctx.log.error({ instance: instanceUuid, file: f.overlay.path, err: err.message }, "could not take an unused overlay out of its VM"));
      await this.disks.removeFile(f.overlay);
    }
    if (snapshotUuid && !store.snapshots.get({ uuid: snapshotUuid })) await this.snapshots.removeFiles(this.snapshots.files(snapshotUuid), store.instances.get({ uuid: instanceUuid })?.host);
    // A live snapshot may have been interrupted with the guest's volumes frozen by its agent:
    // thaw them now rather than when the freeze's deadline ends it (a thawed guest just says so).
    if (handle && snapshotUuid) await handle.thawGuest();
    this.ctx.log.warn(
      { instance: instanceUuid, operation: entry.id, kept: forward.map((f) => f.diskId), removed: back.map((f) => f.diskId) },
      "interrupted disk freeze settled: switched disks recorded, unused overlays removed",
    );
  }

  /**
   * A volume's growth was interrupted (its disk may have grown, its filesystem not yet): the growth
   * is done again (both steps are idempotent: growing to the size it has is nothing) and the size
   * recorded; if it still fails, the old size stays recorded and a later resize finishes it.
   */
  private async resize(entry: OperationRecord, volumeUuid: string, sizeMb: number): Promise<void> {
    const store = this.ctx.store;
    const vol = store.volumes.get({ uuid: volumeUuid });
    let grown = false;
    if (vol?.headDisk) {
      grown = await on(this.ctx, vol.host).storage.grow(this.disks.get(vol.headDisk).path, sizeMb).then(
        () => true,
        (err: Error) => (this.ctx.log.error({ volume: volumeUuid, err: err.message }, "could not finish an interrupted resize; the old size stays"), false),
      );
    }
    store.tx(() => {
      if (grown) store.volumes.update({ uuid: volumeUuid }, { sizeMb });
      this.journal.close(entry.id);
    });
    this.ctx.log.warn({ volume: volumeUuid, sizeMb, grown }, "interrupted resize settled");
  }

  /**
   * A suspend was interrupted. Its device state file appears only once the save is complete: with
   * it and the VM gone, the instance is in standby (roll forward); with the VM alive, it runs on
   * (the reattach resumed it) and the snapshot goes; otherwise it stopped and the snapshot goes.
   */
  private async suspend(entry: OperationRecord, instanceUuid: string, snapshotUuid: string): Promise<void> {
    const store = this.ctx.store;
    const snap = store.snapshots.get({ uuid: snapshotUuid });
    const saved = snap !== null && (await on(this.ctx, snap.host).storage.exists(this.snapshots.files(snapshotUuid).devstatePath));
    const inst = store.instances.get({ uuid: instanceUuid });
    if (inst && !this.runtime.handle(instanceUuid) && saved) {
      store.tx(() => {
        store.snapshots.update({ uuid: snapshotUuid }, { state: "ready" });
        this.runtime.setState(instanceUuid, { state: "standby", snapshotUuid, pid: null, stopReason: "suspended (completed after a restart of vmbranch)", error: null });
        this.journal.close(entry.id);
      });
      this.ctx.log.warn({ instance: instanceUuid, snapshot: snapshotUuid }, "interrupted suspend completed: the state was saved");
      return;
    }
    store.tx(() => this.journal.close(entry.id));
    await this.snapshots.release(snapshotUuid);
    this.ctx.log.warn({ instance: instanceUuid, snapshot: snapshotUuid, running: this.runtime.handle(instanceUuid) !== undefined }, "interrupted suspend undone");
  }
}
