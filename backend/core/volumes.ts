/**
 * Volumes: create (formatted, from a template, or managed host paths), list, get, PATCH (grow,
 * tags, delete lock), delete, attach/detach and import. Clones and templates live in
 * volume-clones.ts. Every mutation holds the volume's lock; multi-step ones use a reverter.
 */
import type { Readable } from "node:stream";
import type {
  Volume,
  VolumeAttachRequest,
  VolumeCreateRequest,
  VolumeDetachRequest,
  VolumePatchOp,
} from "vmbranch/sdk";
import { messages } from "vmbranch/sdk";
import { failpoint } from "../host/failpoints";
import type { ImportError } from "../host/storage-driver";
import type { VolumeRecord } from "../store/records";
import { home, on, type CoreContext } from "./context";
import { Disks } from "./disks";
import { ApiError } from "./errors";
import { hostError, hostFailureOf } from "./host-errors";
import { IMPORT_DIR_PREFIX, SERVE_RUN, generateName, newUuid, now } from "./identity";
import { Journal } from "./journal";
import { instanceKey, volumeKey } from "./locks";
import { findVolume, patchTags, refId, requireInstance, requireVolume, requireVolumeTemplate } from "./lookup";
import { Reverter } from "./reverter";
import { storeReverter, whileUnavailable } from "./background";
import { placeOn, requireHostOnline } from "./hosts";
import { insertUnique } from "./unique";
import { LIVE_STATES, checkAttachAllowed, checkMountPointFree } from "./volume-rules";
import { instanceState, loadedVolumeRelations, volumeView } from "./views";

/** Lock key serializing the creation of managed volumes (their directories may not overlap). */
const MANAGED_PATHS_KEY = "managed-paths";

/** Volume operations. */
export class Volumes {
  readonly disks: Disks;

  constructor(private readonly ctx: CoreContext) {
    this.disks = new Disks(ctx);
  }

  /** Wire view of a volume record. */
  view(r: VolumeRecord): Volume {
    return volumeView(this.ctx.store, r);
  }

  /** A view function for a list: the related rows of every volume are read once, up front. */
  viewer(): (r: VolumeRecord) => Volume {
    const rel = loadedVolumeRelations(this.ctx.store);
    return (r) => volumeView(this.ctx.store, r, rel);
  }

  /** Throw NAME_TAKEN when a volume already has `name`. */
  checkNameFree(name: string): void {
    if (findVolume(this.ctx.store, name)) throw new ApiError("NAME_TAKEN", `A volume named '${name}' already exists`, "name");
  }

  /** Resolve a filesystem name (default ext4) or throw a 400 naming the registered ones (every host registers the same). */
  filesystem(name: string | undefined) {
    const storage = home(this.ctx).storage;
    const fs = storage.filesystem(name ?? storage.defaultFilesystem);
    if (!fs)
      throw new ApiError("VALIDATION_FAILED", `Unknown filesystem '${name}'; registered: ${storage.filesystems().join(", ")}`, "filesystem");
    return fs;
  }

  /** Throw HOST_PATH_REJECTED unless `path` is an allowed existing directory on host `host` that overlaps no other managed or vmbranch directory there. */
  async checkHostPath(path: string, host: string | null | undefined): Promise<void> {
    const c = this.ctx.config;
    const here = host ?? c.hostName;
    const claimed = [
      ...this.ctx.store.volumes.managed().filter((v) => (v.host ?? c.hostName) === here).map((v) => ({ what: `managed volume '${v.name}'`, path: v.hostPath! })),
      { what: "the data directory", path: c.dataDir },
      { what: "the image directory", path: c.imageDir },
      { what: "the RAM directory", path: c.ramDir },
    ];
    const problem = await on(this.ctx, here).storage.hostPathProblem(path, c.allowedHostPaths, claimed);
    if (problem) throw new ApiError("HOST_PATH_REJECTED", problem, "host_path");
  }

  /**
   * Create a volume record and its data. `owner` makes it an inline volume of that instance.
   * Registers undo steps on `rev`; the caller decides when the whole action succeeded.
   */
  async createRecord(req: VolumeCreateRequest, rev: Reverter, owner: string | null = null): Promise<VolumeRecord> {
    const name = req.name ?? generateName("vol");
    this.checkNameFree(name);
    const base = {
      uuid: newUuid(), name, isTemplate: false, persistent: owner === null, ownerUuid: owner, templateUuid: null, clone: null,
      tags: req.tags ?? [], deleteLock: req.delete_lock ?? false, error: null, createdAt: now(),
      // An inline volume lives where its instance does; a volume of its own was placed by `create`.
      host: (owner !== null ? this.ctx.store.instances.get({ uuid: owner })?.host : req.host) ?? this.ctx.config.hostName,
    };
    const insert = async () => {
      const rec = await this.buildRecord(req, base, rev);
      insertUnique(() => this.ctx.store.volumes.insert(rec), `A volume named '${name}' already exists`);
      return rec;
    };
    // Managed directories are checked against each other: one check-and-insert at a time. A new
    // volume holds its own lock until its row names its disk (an inline one is under its
    // instance's): until then its file is recorded nowhere, which the doctor must not take for a leak.
    const keys = [...(req.host_path !== undefined ? [MANAGED_PATHS_KEY] : []), ...(owner === null ? [volumeKey(base.uuid)] : [])];
    const rec = keys.length > 0 ? await this.ctx.locks.with(keys, insert) : await insert();
    rev.add("delete volume row", () => this.ctx.store.volumes.delete({ uuid: rec.uuid }));
    return rec;
  }

  /** The record of a new volume with its data created (undo registered on `rev`), not yet inserted. */
  private async buildRecord(
    req: VolumeCreateRequest,
    base: Pick<VolumeRecord, "uuid" | "name" | "isTemplate" | "persistent" | "ownerUuid" | "templateUuid" | "clone" | "tags" | "deleteLock" | "error" | "createdAt" | "host">,
    rev: Reverter,
  ): Promise<VolumeRecord> {
    if (req.host_path !== undefined) {
      await this.checkHostPath(req.host_path, base.host);
      return { ...base, kind: "managed", state: "available", sizeMb: null, filesystem: null, hostPath: req.host_path,
        uid: req.uid ?? 0, gid: req.gid ?? 0, headDisk: null, populated: true };
    }
    if (req.template !== undefined) {
      const tpl = requireVolumeTemplate(this.ctx.store, refId(req.template));
      // On another host than the template's, its layers are copied there first (cached by id).
      if (tpl.host !== base.host) requireHostOnline(this.ctx.store, tpl);
      const head = await this.disks.overlay(tpl.headDisk!, base.host);
      rev.add("remove clone disk", () => this.disks.release(head.id));
      return { ...base, kind: "block", state: "available", sizeMb: tpl.sizeMb, filesystem: tpl.filesystem, hostPath: null,
        uid: null, gid: null, headDisk: head.id, templateUuid: tpl.uuid, populated: true };
    }
    const fs = this.filesystem(req.filesystem);
    const head = await this.disks.createFormatted(base.host, req.size_mb!, fs);
    rev.add("remove disk", () => this.disks.release(head.id));
    return { ...base, kind: "block", state: "available", sizeMb: req.size_mb!, filesystem: fs.name, hostPath: null,
      uid: null, gid: null, headDisk: head.id, populated: false };
  }

  /** `POST /v1/volumes`. */
  async create(request: VolumeCreateRequest): Promise<Volume> {
    // Decided before anything is made, so a refused placement leaves nothing behind.
    const req = { ...request, host: this.place(request) };
    const rec = await storeReverter(this.ctx.log).run((rev) => this.createRecord(req, rev));
    this.ctx.log.info({ volume: rec.uuid, name: rec.name }, "volume created");
    return this.view(rec);
  }

  /**
   * The host a new volume goes to: the request's (a template's layers are copied there), else its
   * template's (nothing to copy), else placement's free choice.
   */
  private place(req: VolumeCreateRequest): string {
    const tpl = req.template !== undefined ? findVolume(this.ctx.store, refId(req.template)) : null;
    if (req.host === undefined && tpl?.isTemplate && tpl.host)
      return placeOn(this.ctx, { memoryMb: 0, pins: [{ kind: "volume_template", name: tpl.name, host: tpl.host }] });
    return placeOn(this.ctx, { requested: req.host, memoryMb: 0 });
  }

  /** `GET /v1/volumes/{id}` (templates are under /volumes/templates). */
  get(id: string): Volume {
    return this.view(requireVolume(this.ctx.store, id));
  }

  /** The volume (or template, which attach then refuses clearly) named `id`; 404 when missing. */
  requireForAttach(id: string): VolumeRecord {
    const rec = findVolume(this.ctx.store, id);
    if (!rec) throw new ApiError("VOLUME_NOT_FOUND", `Volume '${id}' not found`);
    return rec;
  }

  /** Instances that have `uuid` attached, with their names and states. */
  attachmentsOf(uuid: string) {
    return this.ctx.store.attachments
      .ofVolume(uuid)
      .map((a) => {
        const i = this.ctx.store.instances.get({ uuid: a.instanceUuid });
        return { ...a, instanceName: i?.name ?? a.instanceUuid, instanceState: i ? instanceState(i) : "deleted" };
      })
      .sort((x, y) => x.instanceName.localeCompare(y.instanceName));
  }

  /**
   * `PATCH /v1/volumes/{id}` and `/v1/volumes/templates/{id}` (templates take only tags and
   * delete_lock). Every operation is checked before any is applied: a refused request changes nothing.
   */
  async patch(id: string, ops: VolumePatchOp[], template = false): Promise<Volume> {
    const found = template ? requireVolumeTemplate(this.ctx.store, id) : requireVolume(this.ctx.store, id);
    return this.ctx.locks.with([volumeKey(found.uuid)], async () => {
      const rec = this.ctx.store.volumes.get({ uuid: found.uuid })!;
      requireHostOnline(this.ctx.store, rec);
      let tags = rec.tags;
      let deleteLock = rec.deleteLock;
      let sizeMb = rec.sizeMb;
      for (const op of ops) {
        if (op.prop === "size_mb") {
          if (template) throw new ApiError("VOLUME_IS_TEMPLATE", `Volume template '${rec.name}' is immutable`, "size_mb");
          this.checkGrow(rec, op.value);
          sizeMb = op.value;
        } else if (op.prop === "tags") {
          tags = patchTags(tags, op.op, op.value);
          if (tags.length > 16) throw new ApiError("VALIDATION_FAILED", "'tags': at most 16 tags", "tags");
        } else deleteLock = op.value;
      }
      // The only step with a side effect on disk goes first, journaled (a restart finishes a growth it
      // interrupted and records the size); the row changes follow in one write with the entry's close.
      const journal = new Journal(this.ctx);
      let op: string | null = null;
      if (sizeMb !== rec.sizeMb) {
        op = this.ctx.store.tx(() => journal.open({ kind: "resize", volumeUuid: rec.uuid, sizeMb: sizeMb! }));
        try {
          await on(this.ctx, rec.host).storage.grow(this.disks.get(rec.headDisk!).path, sizeMb!);
        } catch (err) {
          // The file may be larger now, with the filesystem as it was: harmless, and a later resize finishes it.
          this.ctx.store.tx(() => journal.close(op!));
          throw hostError(err, `Cannot resize volume '${rec.name}'`, this.ctx.log);
        }
        // The disk grew: the size is recorded whatever fails from here.
        await failpoint("resize.after-grow").catch((err: Error) => this.ctx.log.error({ volume: rec.uuid, err: err.message }, "a failure after a volume grew; recording its size"));
      }
      const record = () => this.ctx.store.volumes.update({ uuid: rec.uuid }, { tags, deleteLock, sizeMb });
      // A grown disk is recorded whatever the database does; a change of the row alone is refused while it is down.
      if (op) await journal.finish(op, `recording the new size of volume ${rec.uuid}`, record);
      else record();
      return this.view(this.ctx.store.volumes.get({ uuid: rec.uuid })!);
    });
  }

  /** Throw unless `rec` may grow to `sizeMb` now (block volume, no shrink, no VM using it). */
  private checkGrow(rec: VolumeRecord, sizeMb: number): void {
    if (rec.kind === "managed") throw new ApiError("VALIDATION_FAILED", `Managed volume '${rec.name}' has no size: its space is the host directory's`, "size_mb");
    if (sizeMb < rec.sizeMb!) throw new ApiError("VOLUME_SHRINK", messages.volumeShrink(rec.sizeMb!, sizeMb), "size_mb");
    if (sizeMb === rec.sizeMb) return;
    const busy = this.attachmentsOf(rec.uuid).find((a) => LIVE_STATES.has(a.instanceState) || a.instanceState === "standby");
    if (busy)
      throw new ApiError("VOLUME_IN_USE", `Cannot resize volume '${rec.name}' while instance '${busy.instanceName}' is ${busy.instanceState}: stop it first`, "size_mb");
  }

  /** `DELETE /v1/volumes/{id}` (and templates with `template`). */
  async delete(id: string, template = false): Promise<Volume> {
    const found = template ? requireVolumeTemplate(this.ctx.store, id) : requireVolume(this.ctx.store, id);
    return this.ctx.locks.with([volumeKey(found.uuid)], async () => {
      const rec = this.ctx.store.volumes.get({ uuid: found.uuid });
      if (!rec) throw new ApiError("VOLUME_NOT_FOUND", `Volume '${id}' not found`);
      requireHostOnline(this.ctx.store, rec);
      const view = this.view(rec);
      if (rec.deleteLock)
        throw new ApiError("DELETE_LOCKED", `Volume '${rec.name}' has a delete lock; unset it with PATCH delete_lock first`);
      const atts = this.attachmentsOf(rec.uuid);
      if (atts.length > 0)
        throw new ApiError("VOLUME_IN_USE", `Volume '${rec.name}' is attached to ${atts.map((a) => `'${a.instanceName}'`).join(", ")}; detach it first`);
      this.checkNoActiveClones(rec);
      await this.destroyRecord(rec);
      return { ...view, state: view.state };
    });
  }

  /** Throw VOLUME_HAS_CLONES when clones still depend on `rec` (pending clones of a volume, any instance of a template). */
  checkNoActiveClones(rec: VolumeRecord): void {
    const store = this.ctx.store;
    if (rec.isTemplate) {
      const n = store.volumes.clonesOf(rec.uuid);
      if (n > 0) throw new ApiError("VOLUME_HAS_CLONES", `Volume template '${rec.name}' has ${n} dependent volume(s); delete them first`);
    }
    const pending = store.volumes
      .pending()
      .filter((v) => v.clone?.sourceUuid === rec.uuid);
    if (pending.length > 0)
      throw new ApiError("VOLUME_HAS_CLONES", `Volume '${rec.name}' has ${pending.length} clone(s) in progress; wait for them to finish`);
  }

  /** Remove a volume's row and release its data. Caller holds the lock and checked the rules. */
  async destroyRecord(rec: VolumeRecord): Promise<void> {
    this.ctx.store.volumes.remove(rec.uuid);
    // Files whose rows are gone are the doctor's to remove (at the next start) if serve dies here;
    // a failure here does not undo the delete: the files are released all the same.
    await failpoint("delete.after-volume-row").catch((err: Error) => this.ctx.log.error({ volume: rec.uuid, err: err.message }, "a failure after a volume's row was deleted; releasing its files"));
    await this.releaseData(rec);
  }

  /** Release the disk layers of volume `rec`, whose row is already gone. */
  async releaseData(rec: VolumeRecord): Promise<void> {
    if (rec.headDisk) await this.disks.release(rec.headDisk);
    this.ctx.events.emit("volume", rec.uuid, "deleted");
    this.ctx.log.info({ volume: rec.uuid, name: rec.name }, "volume deleted");
  }

  /** `PUT /v1/volumes/{id}/attach`: only to instances that are stopped (hot-plug is refused). */
  async attach(id: string, req: VolumeAttachRequest): Promise<Volume> {
    // Templates are found too, so attaching one says why it cannot be.
    const vol = this.requireForAttach(id);
    const inst = requireInstance(this.ctx.store, refId(req.attach_to));
    return this.ctx.locks.with([volumeKey(vol.uuid), instanceKey(inst.uuid)], async () => {
      requireHostOnline(this.ctx.store, vol, inst);
      this.attachRecord(vol.uuid, inst.uuid, req.at, req.readonly ?? false);
      return this.view(this.ctx.store.volumes.get({ uuid: vol.uuid })!);
    });
  }

  /**
   * Check that `volumeUuid` may be attached to stopped instance `instanceUuid` at `at`, given the
   * instance's `mounts` (current or planned); returns nothing, throws the rule it breaks.
   */
  checkAttach(volumeUuid: string, instanceUuid: string, at: string, readonly: boolean, mounts: readonly { at: string }[]): void {
    const store = this.ctx.store;
    const vol = store.volumes.get({ uuid: volumeUuid })!;
    const inst = store.instances.get({ uuid: instanceUuid })!;
    if (inst.state !== "stopped")
      throw new ApiError(
        "INVALID_STATE",
        `Cannot attach volume '${vol.name}' to instance '${inst.name}' in state '${inst.state}': hot-plug is not supported, stop the instance first`,
      );
    checkAttachAllowed(vol, this.attachmentsOf(volumeUuid), instanceUuid, readonly);
    checkMountPointFree(inst.name, mounts, at);
  }

  /** Add an attachment after checking every rule. Caller holds both locks. */
  attachRecord(volumeUuid: string, instanceUuid: string, at: string, readonly: boolean): void {
    const store = this.ctx.store;
    this.checkAttach(volumeUuid, instanceUuid, at, readonly, store.attachments.ofInstance(instanceUuid));
    const position = store.attachments.nextPosition(instanceUuid);
    store.attachments.insert({ volumeUuid, instanceUuid, at, readonly, position });
  }

  /**
   * Add an attachment without the mount checks, at a given device position: for branches and
   * template instances, whose device layout must match the snapshot they start from.
   */
  attachRecordUnchecked(volumeUuid: string, instanceUuid: string, at: string, readonly: boolean, position: number): void {
    this.ctx.store.attachments.insert({ volumeUuid, instanceUuid, at, readonly, position });
  }

  /** Create a copy-on-write clone volume over frozen layer `frozenDisk` (state available); undo registered on `rev`. */
  async cloneRecord(
    rev: Reverter,
    o: { sourceUuid: string; sourceName: string; frozenDisk: string; sizeMb: number | null; filesystem: string | null; name: string; owner: string | null; templateUuid: string | null; tags?: string[]; deleteLock?: boolean },
  ): Promise<VolumeRecord> {
    this.checkNameFree(o.name);
    // A clone lives where its instance does (beside its source, or another host the layers are
    // copied to), else where its source is.
    const host = (o.owner !== null ? this.ctx.store.instances.get({ uuid: o.owner })?.host : this.ctx.store.volumes.get({ uuid: o.sourceUuid })?.host) ?? this.ctx.config.hostName;
    const head = await this.disks.overlay(o.frozenDisk, host);
    rev.add("remove clone disk", () => this.disks.release(head.id));
    const t = now();
    const rec: VolumeRecord = {
      uuid: newUuid(), name: o.name, kind: "block", state: "available", isTemplate: false, sizeMb: o.sizeMb, filesystem: o.filesystem, hostPath: null, host,
      uid: null, gid: null, persistent: o.owner === null, ownerUuid: o.owner, headDisk: head.id, templateUuid: o.templateUuid,
      clone: { sourceUuid: o.sourceUuid, sourceName: o.sourceName, progress: 100, startedAt: t, finishedAt: t, message: null },
      tags: o.tags ?? [], deleteLock: o.deleteLock ?? false, populated: true, error: null, createdAt: t,
    };
    insertUnique(() => this.ctx.store.volumes.insert(rec), `A volume named '${o.name}' already exists`);
    rev.add("delete clone row", () => this.ctx.store.volumes.remove(rec.uuid));
    return rec;
  }

  /** `PUT /v1/volumes/{id}/detach`: from one instance, or from all. Instances must not be running. */
  async detach(id: string, req: VolumeDetachRequest): Promise<Volume> {
    const vol = requireVolume(this.ctx.store, id);
    const targets = req.from
      ? [requireInstance(this.ctx.store, refId(req.from))]
      : this.attachmentsOf(vol.uuid).map((a) => this.ctx.store.instances.get({ uuid: a.instanceUuid })!);
    return this.ctx.locks.with([volumeKey(vol.uuid), ...targets.map((t) => instanceKey(t.uuid))], async () => {
      requireHostOnline(this.ctx.store, vol, ...targets);
      for (const t of targets) this.detachRecord(vol.uuid, t.uuid);
      return this.view(this.ctx.store.volumes.get({ uuid: vol.uuid })!);
    });
  }

  /** Check that `volumeUuid` may be detached from `instanceUuid` (attached, not inline, instance stopped). */
  checkDetach(volumeUuid: string, instanceUuid: string): void {
    const store = this.ctx.store;
    const vol = store.volumes.get({ uuid: volumeUuid })!;
    const inst = store.instances.get({ uuid: instanceUuid })!;
    if (!store.attachments.get({ volumeUuid, instanceUuid }))
      throw new ApiError("VALIDATION_FAILED", `Volume '${vol.name}' is not attached to instance '${inst.name}'`, "from");
    if (!vol.persistent)
      throw new ApiError("VOLUME_IN_USE", `Volume '${vol.name}' was created with instance '${inst.name}' and lives and dies with it`);
    if (inst.state !== "stopped")
      throw new ApiError("INVALID_STATE", `Cannot detach volume '${vol.name}' from instance '${inst.name}' in state '${inst.state}': stop the instance first`);
  }

  /** Remove one attachment after checking the rules. Caller holds both locks. */
  detachRecord(volumeUuid: string, instanceUuid: string): void {
    this.checkDetach(volumeUuid, instanceUuid);
    this.ctx.store.attachments.delete({ volumeUuid, instanceUuid });
  }

  /** `PUT /v1/volumes/{id}/import`: fill an empty, unattached block volume from a tar stream. */
  async import(id: string, tar: Readable): Promise<Volume> {
    const vol = requireVolume(this.ctx.store, id);
    return this.ctx.locks.with([volumeKey(vol.uuid)], async () => {
      const rec = this.ctx.store.volumes.get({ uuid: vol.uuid })!;
      requireHostOnline(this.ctx.store, rec);
      if (rec.kind !== "block") throw new ApiError("VALIDATION_FAILED", `Managed volume '${rec.name}' cannot be imported into: write to its host directory`);
      if (rec.populated || this.attachmentsOf(rec.uuid).length > 0)
        throw new ApiError("VOLUME_NOT_EMPTY", `Volume '${rec.name}' is not empty or is attached: import needs a new, unattached volume`);
      // Named after this serve's run, so a sweep tells the directories of a dead serve from live ones.
      const storage = on(this.ctx, rec.host).storage;
      const dir = await storage.makeImportScratch(this.ctx.config.tmpDir, `${IMPORT_DIR_PREFIX}${SERVE_RUN}-`);
      try {
        const bytes = rec.sizeMb! * 1024 * 1024;
        // No filesystem of this size holds more than one inode per 4 KiB block.
        const limits = { maxBytes: bytes, maxEntries: Math.max(64, Math.floor(bytes / 4096)), idleTimeoutMs: this.ctx.config.importIdleTimeoutMs };
        await storage.extractTar(tar, dir, limits).catch((err: unknown) => {
          const refusal = (err as Partial<ImportError> | null)?.importRefusal;
          if (refusal === "stalled") throw new ApiError("IMPORT_STALLED", `Import into volume '${rec.name}' failed: ${(err as Error).message}`);
          if (refusal === "too-large") throw new ApiError("IMPORT_TOO_LARGE", `Import into volume '${rec.name}' (${rec.sizeMb} MiB) refused: ${(err as Error).message}`);
          throw refusal === "invalid" ? new ApiError("VALIDATION_FAILED", `Import failed: ${(err as Error).message}`) : err;
        });
        await failpoint("import.after-extract");
        const fs = this.filesystem(rec.filesystem ?? undefined);
        const head = await this.disks.createFormatted(rec.host, rec.sizeMb!, fs, dir).catch((err: unknown) => {
          if (hostFailureOf(err)?.cause !== "no-space") throw hostError(err, `Import into volume '${rec.name}' failed`, this.ctx.log);
          throw new ApiError("VALIDATION_FAILED", `The archive does not fit in volume '${rec.name}' (${rec.sizeMb} MiB): its files need more blocks or inodes than the filesystem has`);
        });
        const old = rec.headDisk;
        // The new disk is made and recorded: the volume waits for the database to name it its head
        // rather than leave it to no volume.
        await whileUnavailable(this.ctx.log, `recording the import into volume ${rec.uuid}`, () =>
          this.ctx.store.volumes.update({ uuid: rec.uuid }, { headDisk: head.id, populated: true }),
        );
        await this.disks.release(old);
      } finally {
        await storage.removeImportScratch(dir);
      }
      return this.view(this.ctx.store.volumes.get({ uuid: rec.uuid })!);
    });
  }
}
