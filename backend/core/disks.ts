/**
 * Disk files and their copy-on-write graph. A volume's data is a writable head; freezing it
 * makes the head an immutable layer with a fresh overlay on top, so clones, branches and
 * templates share the frozen layer in O(1). Layers are reference-counted through the store
 * (child disks, volumes, snapshots) and the last user frees them; a layer an overlay is being made
 * on is pinned meanwhile, so it is never freed under an image that backs onto it. An overlay file a
 * failed step made is removed, never left without a row. Only valid for files no VM has open,
 * except where a caller says the VM already switched to the new overlay (live freeze). Each disk's
 * file is on one host (its row says which): an overlay is made on its parent's host, or on a host
 * the parent was copied to (`copyTo`, which `overlay` does on its own: same path there, so backing
 * paths hold; cached by id and released with the layer).
 */
import { join } from "node:path";
import type { FilesystemKind } from "../host/storage-driver";
import { failpoint } from "../host/failpoints";
import type { DiskRecord } from "../store/records";
import type { Store } from "../store/store";
import { whileUnavailable } from "./background";
import { on, type CoreContext } from "./context";
import { newUuid, now } from "./identity";

/** Disk bookkeeping over the store and the disks directory. */
export class Disks {
  /** Layers an overlay is being made on (count per id): `release` leaves them to the builder. */
  private readonly building = new Map<string, number>();
  /** Copies of a layer to a host under way (`id@host`): a second request waits for the first. */
  private readonly copying = new Map<string, Promise<number>>();
  /** Releases in flight: mid-walk, a layer has no references yet still has its row and file. */
  private releasing = 0;

  constructor(private readonly ctx: CoreContext) {}

  private get store(): Store {
    return this.ctx.store;
  }

  /** Path a new disk file with `id` gets. */
  pathFor(id: string): string {
    return join(this.ctx.config.disksDir, `${id}.qcow2`);
  }

  /** The disk record `id`; throws when missing (a broken reference is a bug, not user input). */
  get(id: string): DiskRecord {
    const d = this.store.disks.get({ id });
    if (!d) throw new Error(`disk ${id} is missing from the store`);
    return d;
  }

  /** Remove the file of disk `rec` on its host. */
  removeFile(rec: DiskRecord): Promise<void> {
    return on(this.ctx, rec.host).storage.remove(rec.path);
  }

  /** Create a formatted standalone head disk on host `host` (optionally filled from a directory there). */
  async createFormatted(host: string | null | undefined, sizeMb: number, fs: FilesystemKind, fromDir?: string): Promise<DiskRecord> {
    const id = newUuid();
    const path = this.pathFor(id);
    await on(this.ctx, host).storage.createFormatted(path, sizeMb, fs, fromDir);
    const rec: DiskRecord = { id, path, parentId: null, frozen: false, depth: 0, sizeMb, createdAt: now(), host: host ?? this.ctx.config.hostName };
    // The state database down (restarting) refuses the row: the file goes too, as for an overlay.
    await this.recordOrRemove(rec, () => this.store.disks.insert(rec));
    return rec;
  }

  /** Create the file of a new overlay over frozen `parentId` on `host` (default: the parent's), without recording it yet. */
  async createOverlayFile(parentId: string, host?: string | null): Promise<DiskRecord> {
    const parent = this.get(parentId);
    const own = parent.host ?? this.ctx.config.hostName;
    const target = host ?? own;
    if (target !== own && !this.store.diskCopies.get({ diskId: parentId, host: target }))
      throw new Error(`layer ${parentId} is on host ${own} and has no copy on host ${target}`);
    const id = newUuid();
    const path = this.pathFor(id);
    await on(this.ctx, target).storage.createOverlay(path, parent.path);
    return { id, path, parentId, frozen: false, depth: parent.depth + 1, sizeMb: parent.sizeMb, createdAt: now(), host: target };
  }

  /**
   * Create and record a writable overlay over frozen `parentId` on `host` (default: the parent's; a
   * clone's head). On another host than the parent's, the layers it lacks are copied there first.
   */
  async overlay(parentId: string, host?: string | null): Promise<DiskRecord> {
    return this.buildingOn(parentId, async () => {
      if (host && host !== (this.get(parentId).host ?? this.ctx.config.hostName)) await this.copyTo(parentId, host);
      const rec = await this.createOverlayFile(parentId, host);
      await this.recordOrRemove(rec, () => this.store.disks.insert(rec));
      return rec;
    });
  }

  /**
   * Run `fn`, which makes an image backing onto layer `parentId`, with the layer pinned: a release
   * meanwhile (the last other user going, a flatten dropping it) leaves it, and if `fn` failed,
   * the layer is released again afterwards so it is not kept for nothing.
   */
  private async buildingOn<T>(parentId: string, fn: () => Promise<T>): Promise<T> {
    this.building.set(parentId, (this.building.get(parentId) ?? 0) + 1);
    let ok = false;
    try {
      const out = await fn();
      ok = true;
      return out;
    } finally {
      const left = this.building.get(parentId)! - 1;
      if (left === 0) this.building.delete(parentId);
      else this.building.set(parentId, left);
      if (!ok && left === 0) await this.release(parentId).catch((err: Error) => this.ctx.log.error({ disk: parentId, err: err.message }, "could not release a layer after a failed overlay"));
    }
  }

  /** Run `record` (the store write naming disk `rec`); if it throws, the disk's file goes too. */
  private async recordOrRemove<T>(rec: DiskRecord, record: () => T): Promise<T> {
    try {
      return record();
    } catch (err) {
      await this.removeFile(rec).catch((e: Error) => this.ctx.log.error({ disk: rec.id, err: e.message }, "could not remove the file of a disk that was not recorded"));
      throw err;
    }
  }

  /**
   * Freeze volume head `headId` offline: it becomes a layer and `replacement` (an overlay file
   * created over it) becomes the volume's head. Returns the frozen layer's id. Run inside a transaction.
   */
  commitFreeze(volumeUuid: string, headId: string, replacement: DiskRecord): string {
    // The caller holds the volume's lock: a head that changed or a volume that went is a broken
    // lock, and recording the freeze anyway would leave `replacement` named by nothing.
    if (this.store.volumes.get({ uuid: volumeUuid })?.headDisk !== headId)
      throw new Error(`volume ${volumeUuid} no longer has head ${headId}: its freeze is not recorded`);
    this.store.disks.update({ id: headId }, { frozen: true });
    this.store.disks.insert(replacement);
    this.store.volumes.update({ uuid: volumeUuid }, { headDisk: replacement.id });
    return headId;
  }

  /** Freeze a volume's head that no VM has open; returns the frozen layer id. */
  async freezeOffline(volumeUuid: string, headId: string): Promise<string> {
    // Freezing needs the head frozen first so the overlay's parent is immutable; the file itself does not change.
    return this.buildingOn(headId, async () => {
      const replacement = await this.createOverlayFile(headId);
      return this.recordOrRemove(replacement, () => this.store.tx(() => this.commitFreeze(volumeUuid, headId, replacement)));
    });
  }

  /** Delete disk `id` and then its ancestors, as long as nothing references them any more (their copies on other hosts too). */
  release(id: string | null): Promise<void> {
    return this.whileReleasing(async () => {
      let current = id;
      while (current) {
        const dropped = await this.dropRow(current);
        if (!dropped) return;
        const { disk: d, copies } = dropped;
        await this.removeFile(d);
        // A copy's host may be away: its file, named by no row now, is the doctor's to remove there.
        for (const host of copies)
          await this.removeFile({ ...d, host }).catch((err: Error) => this.ctx.log.warn({ disk: d.id, host, err: err.message }, "could not remove a layer's copy; the doctor removes it once its host is back"));
        current = d.parentId;
      }
    });
  }

  /**
   * Make frozen layer `id` and every layer below it readable on `host`: each one that is neither
   * there nor copied there yet is sent from its own host to the same path on `host` and recorded
   * (layers never change, so a copy is good for as long as the layer lives). Resolves with the
   * bytes sent; 0 when everything was there. The caller holds a reference to `id` throughout.
   */
  async copyTo(id: string, host: string): Promise<number> {
    let bytes = 0;
    for (let current: string | null = id; current; ) {
      const d = this.get(current);
      if ((d.host ?? this.ctx.config.hostName) !== host && !this.store.diskCopies.get({ diskId: d.id, host })) {
        const key = `${d.id}@${host}`;
        let copy = this.copying.get(key);
        if (!copy) {
          copy = this.sendLayer(d, host).finally(() => this.copying.delete(key));
          this.copying.set(key, copy);
          bytes += await copy;
        } else await copy;
      }
      current = d.parentId;
    }
    return bytes;
  }

  /** Stream layer `d`'s file to the same path on `host`, then record the copy (a failed record removes it). */
  private async sendLayer(d: DiskRecord, host: string): Promise<number> {
    const target = on(this.ctx, host).storage;
    const file = await on(this.ctx, d.host).storage.openRead(d.path);
    const bytes = await target.writeFile(d.path, file.stream, file.bytes);
    try {
      this.store.diskCopies.insert({ diskId: d.id, host, bytes, copiedAt: now() });
    } catch (err) {
      await target.remove(d.path).catch(() => undefined);
      throw err;
    }
    return bytes;
  }

  /**
   * Delete the row of disk `id` if nothing references it; returns the row deleted, else null. Waits
   * out a state database that is down: a walk cut halfway would leave the layers above nothing
   * references, and nothing comes back for them (the reference that kept them is gone already).
   */
  private dropRow(id: string): Promise<{ disk: DiskRecord; copies: string[] } | null> {
    let seen: { disk: DiskRecord; copies: string[] } | null = null;
    return whileUnavailable(this.ctx.log, `releasing disk ${id}`, () => {
      const d = this.store.disks.get({ id });
      // Gone on a retry: the delete went through but its answer was lost; the file and parent are still ours.
      if (!d) return seen;
      // A layer an overlay is being made on is its builder's to release (buildingOn); one being
      // copied to a host is kept by the snapshot that references it until the copy is done.
      if (this.store.diskReferences(id) > 0 || this.building.has(id)) return null;
      const copies = this.store.diskCopies.hostsOf(id);
      this.store.tx(() => {
        for (const host of copies) this.store.diskCopies.delete({ diskId: id, host });
        this.store.disks.delete({ id });
      });
      seen = { disk: d, copies };
      return seen;
    });
  }

  /**
   * Run `fn`, which releases layers whose last reference its caller just dropped, counted as a
   * release in flight from this call on (call it in the tick that drops the reference).
   */
  async whileReleasing<T>(fn: () => Promise<T>): Promise<T> {
    this.releasing++;
    try {
      return await fn();
    } finally {
      this.releasing--;
    }
  }

  /**
   * True when no layer is being released or built on: then a layer nothing references is a leak,
   * not a step of an operation in flight (the doctor asks).
   */
  idle(): boolean {
    return this.releasing === 0 && this.building.size === 0;
  }

  /** True when head `id` sits on a backing chain deeper than the configured bound. */
  isDeep(id: string): boolean {
    const d = this.get(id);
    return !d.frozen && d.parentId !== null && d.depth > this.ctx.config.maxChainDepth;
  }

  /**
   * Make head `id` stand alone: copy its backing data into it (offline with qemu-img, or through
   * the VM that has it open via `online`) and drop the reference to its parent, which the last
   * user then frees.
   */
  async flatten(id: string, online?: () => Promise<void>): Promise<void> {
    const d = this.get(id);
    if (!d.parentId) return;
    if (online) await online();
    else await on(this.ctx, d.host).storage.flatten(d.path);
    // Until the store says the head stands alone, its parent is kept: a crash here loses nothing.
    await failpoint("flatten.after-stream");
    await this.recordFlattened(id);
  }

  /** Record that disk `id`'s file stands alone now, and free its former parent unless something else uses it. */
  async recordFlattened(id: string): Promise<void> {
    // The file stands alone already: the record waits out a database that is down rather than
    // leave the parent named (a retry after a lost answer finds it recorded and frees the parent).
    let parentId: string | null = null;
    await whileUnavailable(this.ctx.log, `recording the flatten of disk ${id}`, () => {
      const d = this.get(id);
      if (d.parentId === null) return;
      parentId = d.parentId;
      this.store.disks.update({ id }, { parentId: null, depth: 0 });
    });
    await this.release(parentId);
  }
}
