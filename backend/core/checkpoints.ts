/**
 * Checkpoints (Unikraft Cloud's `/v1/instances/checkpoints`): a named, reusable restore point of an
 * instance — an instance row in state `checkpoint` holding a snapshot of the source's memory (when
 * it had memory) and frozen copy-on-write layers of its block volumes. Captured from a running
 * source live (it pauses for milliseconds; the checkpoint is `starting` until its memory copy
 * completes), from a standby source with the memory it already saved, or from a stopped source
 * (volumes only). New instances load from a ready checkpoint as often as wanted, each with its own
 * copy-on-write volumes and, with memory, continuing the guest from the captured instant. Deleting
 * the source keeps its checkpoints; deleting a checkpoint keeps the instances loaded from it.
 */
import { randomBytes } from "node:crypto";
import { messages, type CheckpointCreateItem, type Instance, type InstanceCreateRequest, type TemplatePatchOp } from "vmbranch/sdk";
import type { CheckpointRecord, InstanceRecord, SnapshotRecord } from "../store/records";
import type { Autokill } from "./autokill";
import { storeReverter, untilRecorded } from "./background";
import type { CoreContext } from "./context";
import { ApiError } from "./errors";
import { requireHostOnline } from "./hosts";
import type { History } from "./history";
import { generateName, newUuid, now } from "./identity";
import { waitSeconds } from "./instance-actions";
import { newInstanceRecord, instanceFromSource } from "./instance-records";
import type { Instances } from "./instances";
import { instanceKey, volumeKey } from "./locks";
import { findInstance, refId, requireCheckpoint } from "./lookup";
import { attachSnapshotDisks } from "./snapshot-volumes";
import type { Snapshots } from "./snapshots";
import { planTemplatePatch } from "./template-updates";
import { insertUnique } from "./unique";
import type { Volumes } from "./volumes";

const CAPTURABLE = ["running", "standby", "stopped"] as const;

/** Checkpoint operations. */
export class Checkpoints {
  constructor(
    private readonly ctx: CoreContext,
    private readonly instances: Instances,
    private readonly volumes: Volumes,
    private readonly snapshots: Snapshots,
    private readonly history: History,
    private readonly autokill: Autokill,
  ) {}

  /** Every checkpoint record, any state. */
  records(): InstanceRecord[] {
    return this.ctx.store.instances.checkpoints();
  }

  /** `GET /v1/instances/checkpoints/{id}`. */
  get(id: string): Instance {
    return this.instances.view(requireCheckpoint(this.ctx.store, id));
  }

  private checkNameFree(name: string): void {
    const taken = this.ctx.store.instances.named(name);
    if (!taken) return;
    throw new ApiError("NAME_TAKEN", taken.checkpoint ? messages.checkpointNameTaken(name) : `An instance named '${name}' already exists`, "name");
  }

  /** One item of `POST /v1/instances/checkpoints`: capture `item.from` (the API runs items one by one). */
  async create(item: CheckpointCreateItem): Promise<Instance> {
    const store = this.ctx.store;
    const source = findInstance(store, refId(item.from));
    if (!source) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${refId(item.from)}' not found`, "from");
    const managed = store.attachments
      .ofInstance(source.uuid)
      .map((a) => store.volumes.get({ uuid: a.volumeUuid })!)
      .find((v) => v.kind === "managed");
    if (managed)
      throw new ApiError("BRANCH_MANAGED_VOLUME", `Cannot checkpoint VM with managed volume '${managed.name}': only block-based volumes (for example, ext4) can be checkpointed`, "from");
    const name = item.name ?? `${source.name.slice(0, 40)}-checkpoint-${randomBytes(3).toString("hex")}`;
    this.checkNameFree(name);
    // Claimed before any await: a branch or another checkpoint of this source now waits its turn.
    if (!this.snapshots.claim(source.uuid))
      throw new ApiError("BRANCH_PENDING_SNAPSHOT", "Cannot checkpoint VM with pending snapshot");
    const uuid = newUuid();
    // A wait that ends in LOCK_TIMEOUT gives the claim back: the source has no snapshot in progress.
    // With the source's volumes' locks: the capture freezes their heads (lock protocol, locks.ts).
    const volumes = () => store.attachments.ofInstance(source.uuid).map((a) => volumeKey(a.volumeUuid));
    const release = await this.ctx.locks.holdChecked(() => [instanceKey(source.uuid), instanceKey(uuid), ...volumes()]).catch((err: unknown) => {
      this.snapshots.unclaim(source.uuid);
      throw err;
    });
    let background = false;
    try {
      const src = findInstance(store, source.uuid);
      if (!src) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${refId(item.from)}' not found`, "from");
      requireHostOnline(store, src);
      if (!(CAPTURABLE as readonly string[]).includes(src.state))
        throw new ApiError("INVALID_STATE", `Cannot create a checkpoint of instance '${src.name}' in state '${src.state}': it must be running, standby or stopped`, "from");
      const base = this.record(uuid, name, src, item);
      if (src.state === "running") {
        const { snapshot, completed } = await this.snapshots.takeLive(src, "template");
        // From here the source stays claimed and locked until its memory copy is complete.
        background = true;
        const finish = () => {
          this.snapshots.unclaim(src.uuid);
          release();
          this.snapshots.flattenDeepChains(src.uuid);
        };
        try {
          this.insert({ ...base, state: "starting", snapshotUuid: snapshot.uuid, checkpoint: { ...base.checkpoint!, hasMemory: true, sourcePauseMs: snapshot.pauseMs } });
        } catch (err) {
          void completed.catch(() => undefined).then(() => this.snapshots.release(snapshot.uuid)).finally(finish);
          throw err;
        }
        void this.finishLive(uuid, snapshot, completed, finish);
      } else {
        await storeReverter(this.ctx.log).run(async (rev) => {
          const snapshotUuid = await this.captureResting(src);
          // Frees a snapshot of its own; one shared with the standby source stays with the source.
          rev.add("release snapshot", () => this.snapshots.release(snapshotUuid));
          const memory = store.snapshots.get({ uuid: snapshotUuid })!.hasMemory;
          this.insert({ ...base, state: "checkpoint", snapshotUuid, checkpoint: { ...base.checkpoint!, hasMemory: memory, sourcePauseMs: 0, readyAt: now() } });
        });
        this.autokill.schedule(uuid);
        this.snapshots.flattenDeepChains(src.uuid);
      }
    } finally {
      if (!background) {
        this.snapshots.unclaim(source.uuid);
        release();
      }
    }
    this.ctx.log.info({ checkpoint: uuid, name, source: source.uuid }, "checkpoint created");
    const waitS = waitSeconds(item.timeout_s, undefined, 0);
    if (waitS > 0) await this.ctx.events.waitFor("instance", uuid, () => store.instances.get({ uuid })?.state ?? "deleted", (s) => s !== "starting", waitS * 1000);
    const rec = store.instances.get({ uuid });
    if (!rec) throw new ApiError("CHECKPOINT_NOT_FOUND", `Checkpoint '${name}' was deleted while it was being created`);
    if (rec.state === "error") throw new ApiError("HOST_FAILURE", `Checkpoint '${name}' failed: ${rec.checkpoint?.message ?? "see the service log"}`);
    return this.instances.view(rec);
  }

  /** The row of a new checkpoint of `src` (state and snapshot are set by the capture). */
  private record(uuid: string, name: string, src: InstanceRecord, item: CheckpointCreateItem): InstanceRecord {
    const checkpoint: CheckpointRecord = {
      sourceUuid: src.uuid, sourceName: src.name, hasMemory: false, sourcePauseMs: null, readyAt: null, loads: 0, message: null,
      guestPorts: this.ctx.store.ports.ofInstance(src.uuid).map((p) => ({ guestPort: p.guestPort, protocol: p.protocol })),
    };
    return newInstanceRecord(
      {
        name, image: src.image, memoryMb: src.memoryMb, vcpus: src.vcpus, args: src.args, env: src.env, hostname: src.hostname, mac: src.mac,
        smbiosSerial: src.smbiosSerial, tags: item.tags ?? [], annotations: src.annotations, deleteLock: item.delete_lock ?? false,
        autostart: false, outboundNetwork: src.outboundNetwork,
      },
      {
        uuid, state: "starting", host: src.host ?? null, accelerator: src.accelerator, checkpoint, fromCheckpoint: null, lineage: this.history.lineageFor(src),
        autokillMs: item.autokill?.time_ms ? item.autokill.time_ms : null, lastUsedAt: null,
      },
    );
  }

  private insert(rec: InstanceRecord): void {
    insertUnique(() => this.ctx.store.instances.insert(rec), messages.checkpointNameTaken(rec.name));
    this.ctx.events.emit("instance", rec.uuid, rec.state);
  }

  /**
   * Snapshot of a resting source: its block volumes frozen offline, and its memory when it is in
   * standby (the standby snapshot itself, which the checkpoint then also holds). Caller holds the lock.
   */
  private async captureResting(src: InstanceRecord): Promise<string> {
    const store = this.ctx.store;
    const frozen = await this.snapshots.freezeStopped(src);
    if (src.state === "standby" && src.snapshotUuid) return src.snapshotUuid;
    const snapshot: SnapshotRecord = {
      uuid: newUuid(), sourceUuid: src.uuid, sourceName: src.name, purpose: "template", state: "ready", hasMemory: false,
      ramPath: null, devstatePath: null, machine: this.instances.runtime.machineOf(src, src.accelerator ?? "tcg", newUuid()), pauseMs: 0, createdAt: now(), host: src.host,
    };
    store.tx(() => {
      store.snapshots.insert(snapshot);
      for (const a of store.attachments.ofInstance(src.uuid))
        if (frozen.has(a.volumeUuid))
          store.snapshotDisks.insert({ snapshotUuid: snapshot.uuid, volumeUuid: a.volumeUuid, diskId: frozen.get(a.volumeUuid)!, at: a.at, readonly: a.readonly, position: a.position });
    });
    return snapshot.uuid;
  }

  /** The memory copy of a live capture completes: the checkpoint is ready, or failed. Releases the source at the end. */
  private async finishLive(uuid: string, snapshot: SnapshotRecord, completed: Promise<void>, done: () => void): Promise<void> {
    const store = this.ctx.store;
    try {
      await completed;
      const rec = store.instances.get({ uuid })!;
      store.instances.update({ uuid }, { state: "checkpoint", checkpoint: { ...rec.checkpoint!, readyAt: now() } });
      this.ctx.log.info({ checkpoint: uuid }, "checkpoint ready");
      this.autokill.schedule(uuid);
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.error({ checkpoint: uuid, err: message }, "checkpoint failed");
      await untilRecorded(this.ctx.log, `recording the failed checkpoint ${uuid}`, async () => {
        const rec = store.instances.get({ uuid });
        if (rec) store.instances.update({ uuid }, { state: "error", error: message, snapshotUuid: null, checkpoint: { ...rec.checkpoint!, message } });
        await this.snapshots.release(snapshot.uuid);
      });
    } finally {
      done();
      await untilRecorded(this.ctx.log, `announcing checkpoint ${uuid}`, () => this.ctx.events.emit("instance", uuid, store.instances.get({ uuid })?.state ?? "deleted"));
    }
  }

  /** `PATCH /v1/instances/checkpoints/{id}`: tags, delete lock, delete-on-idle policy. */
  async patch(id: string, ops: readonly TemplatePatchOp[]): Promise<Instance> {
    const found = requireCheckpoint(this.ctx.store, id);
    return this.ctx.locks.with([instanceKey(found.uuid)], async () => {
      const rec = requireCheckpoint(this.ctx.store, found.uuid);
      requireHostOnline(this.ctx.store, rec);
      this.ctx.store.instances.update({ uuid: rec.uuid }, planTemplatePatch(rec, ops));
      this.autokill.schedule(rec.uuid);
      return this.instances.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
    });
  }

  /** `DELETE /v1/instances/checkpoints/{id}`; a capture in progress finishes first. */
  async delete(id: string): Promise<Instance> {
    const found = requireCheckpoint(this.ctx.store, id);
    return this.ctx.locks.with([instanceKey(found.uuid)], async () => {
      const rec = requireCheckpoint(this.ctx.store, found.uuid);
      requireHostOnline(this.ctx.store, rec);
      if (rec.deleteLock) throw new ApiError("DELETE_LOCKED", `Checkpoint '${rec.name}' has a delete lock; unset it with PATCH delete_lock first`);
      const view = { ...this.instances.view(rec), state: "deleted" as const };
      this.ctx.store.instances.remove(rec.uuid);
      this.autokill.cancel(rec.uuid);
      if (rec.snapshotUuid) await this.snapshots.release(rec.snapshotUuid);
      this.ctx.events.emit("instance", rec.uuid, "deleted");
      this.ctx.log.info({ checkpoint: rec.uuid, name: rec.name }, "checkpoint deleted");
      return view;
    });
  }

  /** Autokill of a checkpoint: deleted unless locked. */
  async expire(rec: InstanceRecord): Promise<boolean> {
    if (rec.deleteLock) return false;
    await this.delete(rec.uuid);
    return true;
  }

  /**
   * `POST /v1/instances {"checkpoint": …}`: a new instance with the checkpoint's machine, clones of
   * its volumes at the same paths and, when it holds memory, the guest continuing from the captured
   * instant (a new VM generation ID, as for branches).
   */
  async load(req: InstanceCreateRequest): Promise<Instance> {
    const store = this.ctx.store;
    const found = requireCheckpoint(store, refId(req.checkpoint!));
    return this.ctx.locks.with([instanceKey(found.uuid)], async () => {
      const cp = requireCheckpoint(store, found.uuid);
      if (cp.state !== "checkpoint" || !cp.snapshotUuid) throw new ApiError("CHECKPOINT_NOT_READY", messages.checkpointNotReady(cp.name, cp.state), "checkpoint");
      const snapshot = store.snapshots.get({ uuid: cp.snapshotUuid })!;
      const warm = snapshot.hasMemory;
      this.instances.runtime.requireRestorable(snapshot, req.host ?? cp.host);
      if (warm && (req.volumes?.length ?? 0) > 0)
        throw new ApiError("VALIDATION_FAILED", `Cannot add volumes to an instance loaded from checkpoint '${cp.name}': it starts from a memory snapshot whose devices are fixed`, "volumes");
      const name = req.name ?? generateName(cp.name.slice(0, 40));
      this.instances.checkNameFree(name);
      const rec = instanceFromSource(cp, req, name, warm, { fromCheckpoint: { uuid: cp.uuid, name: cp.name }, lineage: [cp.uuid, ...(cp.lineage ?? [])] });
      const disks = store.snapshotDisks.ofSnapshot(snapshot.uuid);
      const ports = req.ports ?? cp.checkpoint!.guestPorts.map((p) => ({ guest_port: p.guestPort, protocol: p.protocol }));
      const view = await this.instances.createWith(
        rec,
        warm ? [] : (req.volumes ?? []),
        ports,
        (rev, r) => attachSnapshotDisks(this.ctx, this.volumes, rev, r, disks),
        async (r) => {
          if (r.autostart) await this.instances.runtime.start(r, warm ? { kind: "snapshot", snapshot, vmgenid: newUuid() } : { kind: "boot" });
        },
      );
      store.instances.update({ uuid: cp.uuid }, { lastUsedAt: now(), checkpoint: { ...cp.checkpoint!, loads: cp.checkpoint!.loads + 1 } });
      this.autokill.schedule(cp.uuid);
      this.snapshots.flattenDeepChains(rec.uuid);
      return view;
    });
  }

  /** After a restart: captures that were in progress failed (their memory copy died with the old service). */
  async recover(): Promise<void> {
    const store = this.ctx.store;
    for (const rec of store.instances.capturingCheckpoints()) {
      const message = "checkpoint interrupted by a restart of vmbranch";
      store.instances.update({ uuid: rec.uuid }, { state: "error", error: message, snapshotUuid: null, checkpoint: { ...rec.checkpoint!, message } });
      if (rec.snapshotUuid) await this.snapshots.release(rec.snapshotUuid);
    }
  }
}
