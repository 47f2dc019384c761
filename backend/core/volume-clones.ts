/**
 * Volume clones and volume templates (docs/api.md, "Volume templates", "Volume clones"). A clone
 * exists at once as `pending` and becomes `available` when its data is ready: a copy-on-write
 * overlay over a frozen layer, so the time does not depend on size. A volume a running VM writes is
 * frozen through that VM's QMP, never copied from a live file. Templates are immutable: converted
 * in place (the reference's semantics) or frozen from a volume's current contents while it stays
 * writable. A clone asked for on another host gets the frozen layers it lacks copied there.
 */
import type { Volume, VolumeCloneItem, VolumeTemplateItem } from "vmbranch/sdk";
import { failpoint } from "../host/failpoints";
import type { InstanceRecord, VolumeRecord } from "../store/records";
import { untilRecorded, whileUnavailable } from "./background";
import { perItem, type ItemResult } from "./bulk";
import type { CoreContext } from "./context";
import { ApiError } from "./errors";
import { placeOn, requireHostOnline } from "./hosts";
import { newUuid, now } from "./identity";
import { BACKGROUND_LOCK_WAIT_MS, instanceKey, volumeKey } from "./locks";
import { findVolume, requireVolume, requireVolumeTemplate } from "./lookup";
import { insertUnique } from "./unique";
import type { Snapshots } from "./snapshots";
import { LIVE_STATES } from "./volume-rules";
import { volumeState } from "./views";
import type { Volumes } from "./volumes";
import { randomBytes } from "node:crypto";

/** Clone and template operations on volumes. */
export class VolumeClones {
  constructor(
    private readonly ctx: CoreContext,
    private readonly volumes: Volumes,
    private readonly snapshots: Snapshots,
  ) {}

  /** The running instance that writes `vol` (its read-write mount in a live VM), if any. */
  private writerOf(volumeUuid: string): InstanceRecord | undefined {
    const store = this.ctx.store;
    return store.attachments
      .writersOf(volumeUuid)
      .map((a) => store.instances.get({ uuid: a.instanceUuid })!)
      .find((i) => i && LIVE_STATES.has(i.state));
  }

  /** The locks a freeze of `volumeUuid` needs besides the volume's own: its writer's (lock protocol, locks.ts). */
  private writerKeys(volumeUuid: string): string[] {
    const writer = this.writerOf(volumeUuid);
    return writer ? [instanceKey(writer.uuid)] : [];
  }

  /**
   * Freeze the current contents of `vol` and return the frozen layer: a template's head as is;
   * through the running VM that writes it; offline otherwise. Caller holds the volume's lock and
   * its writer's (`writerKeys`), taken together.
   */
  async freezeContents(vol: VolumeRecord): Promise<string> {
    if (vol.isTemplate) return vol.headDisk!;
    const writer = this.writerOf(vol.uuid);
    if (writer) return this.snapshots.freezeLiveVolume(writer, vol.uuid);
    return this.volumes.disks.freezeOffline(vol.uuid, vol.headDisk!);
  }

  /** `POST /v1/volumes/clone`: each item answers at once with a `pending` volume. */
  clone(items: VolumeCloneItem[]): Promise<ItemResult<Volume>[]> {
    return perItem(items, (item) => this.cloneOne(item));
  }

  private async cloneOne(item: VolumeCloneItem): Promise<Volume> {
    const store = this.ctx.store;
    const id = (item.uuid ?? item.name)!;
    const source = findVolume(store, id);
    if (!source) throw new ApiError("VOLUME_NOT_FOUND", `Volume '${id}' not found`);
    if (source.kind !== "block") throw new ApiError("VALIDATION_FAILED", `Managed volume '${source.name}' cannot be cloned: its data is a host directory`);
    if (source.state === "pending" || source.state === "error")
      throw new ApiError("INVALID_STATE", `Cannot clone volume '${source.name}' in state '${source.state}'`);
    requireHostOnline(store, source);
    // On another host than the source's, the clone's layers are copied there once frozen.
    const host = item.host !== undefined ? placeOn(this.ctx, { requested: item.host, memoryMb: 0 }) : (source.host ?? this.ctx.config.hostName);
    const name = item.vol_name ?? `${source.name}-clone-${randomBytes(3).toString("hex").slice(0, 5)}`.slice(0, 63);
    this.volumes.checkNameFree(name);
    const t = now();
    const rec: VolumeRecord = {
      uuid: newUuid(), name, kind: "block", state: "pending", isTemplate: false, sizeMb: source.sizeMb, filesystem: source.filesystem, hostPath: null,
      uid: null, gid: null, persistent: true, ownerUuid: null, headDisk: null, host,
      templateUuid: source.isTemplate ? source.uuid : null,
      clone: { sourceUuid: source.uuid, sourceName: source.name, progress: 0, startedAt: t, finishedAt: null, message: null },
      tags: item.tags ?? [], deleteLock: item.delete_lock ?? false, populated: true, error: null, createdAt: t,
    };
    insertUnique(() => store.volumes.insert(rec), `A volume named '${name}' already exists`);
    void this.finishClone(rec, source.uuid);
    return this.volumes.view(rec);
  }

  private async finishClone(rec: VolumeRecord, sourceUuid: string): Promise<void> {
    const store = this.ctx.store;
    try {
      const keys = () => [volumeKey(sourceUuid), volumeKey(rec.uuid), ...this.writerKeys(sourceUuid)];
      // A database that goes down under the clone is waited out, and the clone made again from the
      // start: every step undoes itself when the database refuses it (a freeze already done on the
      // host is recorded before it returns), so a second attempt only adds a layer, never loses one.
      await whileUnavailable(this.ctx.log, `making clone ${rec.uuid}`, () => this.ctx.locks.withChecked(keys, async () => {
        // The clone may have been deleted while it waited: then there is nothing to make.
        if (!store.volumes.get({ uuid: rec.uuid })) return;
        const source = store.volumes.get({ uuid: sourceUuid });
        if (!source) throw new Error("the source volume was deleted");
        const frozen = await this.freezeContents(source);
        await failpoint("clone.after-freeze");
        const head = await this.volumes.disks.overlay(frozen, rec.host);
        // The layer is made and recorded: the clone waits for the database to name it its head
        // rather than leave it to no volume.
        await whileUnavailable(this.ctx.log, `recording clone ${rec.uuid} as ready`, () =>
          store.volumes.update({ uuid: rec.uuid }, {
            headDisk: head.id, state: "available", clone: { ...rec.clone!, progress: 100, finishedAt: now() },
          }),
        );
      }, { timeoutMs: BACKGROUND_LOCK_WAIT_MS }));
      this.ctx.log.info({ volume: rec.uuid, source: sourceUuid }, "volume clone ready");
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.error({ volume: rec.uuid, err: message }, "volume clone failed");
      await untilRecorded(this.ctx.log, `recording the failed clone ${rec.uuid}`, () =>
        void store.volumes.update({ uuid: rec.uuid }, { state: "error", error: message, clone: { ...rec.clone!, finishedAt: now(), message } }),
      );
    }
    await untilRecorded(this.ctx.log, `announcing clone ${rec.uuid}`, () => this.ctx.events.emit("volume", rec.uuid, store.volumes.get({ uuid: rec.uuid })?.state ?? "deleted"));
  }

  /** `POST /v1/volumes/templates`. */
  createTemplates(items: VolumeTemplateItem[]): Promise<ItemResult<Volume>[]> {
    return perItem(items, (item) => this.templateOne(item));
  }

  private async templateOne(item: VolumeTemplateItem): Promise<Volume> {
    const store = this.ctx.store;
    const id = (item.uuid ?? item.name)!;
    const found = requireVolume(store, id);
    if (found.kind !== "block") throw new ApiError("VALIDATION_FAILED", `Managed volume '${found.name}' cannot become a template`);
    return this.ctx.locks.withChecked(() => [volumeKey(found.uuid), ...this.writerKeys(found.uuid)], async () => {
      const vol = store.volumes.get({ uuid: found.uuid })!;
      requireHostOnline(store, vol);
      // Converted into a template while this waited for the lock: its state is available, but it is already a template.
      if (vol.isTemplate || vol.state !== "available")
        throw new ApiError("INVALID_STATE", `Cannot make a template of volume '${vol.name}' in state '${volumeState(vol)}'`);
      if ((item.mode ?? "convert") === "convert") return this.convert(vol, item);
      const name = item.template_name ?? `${vol.name}-template-${randomBytes(3).toString("hex").slice(0, 5)}`.slice(0, 63);
      this.volumes.checkNameFree(name);
      const frozen = await this.freezeContents(vol);
      // Killed or failing here, the frozen layer is kept by the volume's new head: nothing is lost.
      await failpoint("template.after-freeze");
      const t = now();
      const tpl: VolumeRecord = {
        uuid: newUuid(), name, kind: "block", state: "available", isTemplate: true, sizeMb: vol.sizeMb, filesystem: vol.filesystem, hostPath: null,
        uid: null, gid: null, persistent: true, ownerUuid: null, headDisk: frozen, templateUuid: null, host: vol.host ?? this.ctx.config.hostName,
        clone: { sourceUuid: vol.uuid, sourceName: vol.name, progress: 100, startedAt: t, finishedAt: t, message: null },
        tags: item.tags ?? [], deleteLock: item.delete_lock ?? false, populated: true, error: null, createdAt: t,
      };
      insertUnique(() => store.volumes.insert(tpl), `A volume named '${name}' already exists`);
      return this.volumes.view(tpl);
    });
  }

  /** Turn `vol` itself into a template (it must not be attached). Caller holds its lock. */
  private convert(vol: VolumeRecord, item: VolumeTemplateItem): Volume {
    const store = this.ctx.store;
    const atts = this.volumes.attachmentsOf(vol.uuid);
    if (atts.length > 0)
      throw new ApiError("VOLUME_IN_USE", `Cannot convert volume '${vol.name}' into a template while it is attached to ${atts.map((a) => `'${a.instanceName}'`).join(", ")}`);
    store.tx(() => {
      store.disks.update({ id: vol.headDisk! }, { frozen: true });
      store.volumes.update({ uuid: vol.uuid }, {
        isTemplate: true, tags: item.tags ?? vol.tags, deleteLock: item.delete_lock ?? vol.deleteLock,
      });
    });
    return this.volumes.view(store.volumes.get({ uuid: vol.uuid })!);
  }

  /** `GET /v1/volumes/templates/{id}`. */
  getTemplate(id: string): Volume {
    return this.volumes.view(requireVolumeTemplate(this.ctx.store, id));
  }
}
