/**
 * Branching (docs/api.md, "Branching"): `POST /v1/instances {branch_from}` clones an
 * instance with its memory and volumes. A running source gets a live copy-on-write snapshot —
 * it pauses for milliseconds — and the branch starts from it once it is complete; a stopped or
 * standby source is branched at once from its existing snapshot, or from its image. The request
 * returns once the snapshot's instant is fixed; the branch reports its phase as it goes
 * (SnapshotInProgress → CreatingTarget → RestoreInProgress → Succeeded | Failed). With `count`,
 * one request makes that many branches of one snapshot: one instant, one pause of a running source,
 * one RAM image that every branch maps copy-on-write.
 */
import { messages, type Instance, type InstanceCreateRequest } from "vmbranch/sdk";
import { failpoint } from "../host/failpoints";
import type { BranchRecord, InstanceRecord, SnapshotDiskRecord, SnapshotRecord } from "../store/records";
import { untilRecorded, whileUnavailable } from "./background";
import { placeNeed, requireCapacity } from "./capacity";
import type { CoreContext } from "./context";
import { ApiError } from "./errors";
import { generateName, newUuid } from "./identity";
import { instanceFromSource } from "./instance-records";
import type { Instances } from "./instances";
import { BACKGROUND_LOCK_WAIT_MS, instanceKey, volumeKey } from "./locks";
import { findAnyInstance, refId } from "./lookup";
import { portSpecsFrom } from "./ports";
import { attachSnapshotDisks } from "./snapshot-volumes";
import type { Snapshots } from "./snapshots";
import type { Volumes } from "./volumes";
import { instanceState } from "./views";

/** Branch creation. */
export class Branches {
  constructor(
    private readonly ctx: CoreContext,
    private readonly instances: Instances,
    private readonly volumes: Volumes,
    private readonly snapshots: Snapshots,
  ) {}

  /** `POST /v1/instances` with `branch_from`: `count` branches (default one) of one snapshot of the source. */
  async create(req: InstanceCreateRequest): Promise<Instance[]> {
    const store = this.ctx.store;
    // Templates are found too, so branching one says why it cannot be (its state), not "not found".
    const source = findAnyInstance(store, refId(req.branch_from!));
    if (!source) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${refId(req.branch_from!)}' not found`, "branch_from");
    if (this.snapshots.isPending(source.uuid)) throw await this.pendingSnapshot(source.uuid);
    if (source.isTemplate || !["running", "stopped", "standby"].includes(source.state))
      throw new ApiError("BRANCH_INVALID_STATE", messages.branchBadState(instanceState(source)));
    const managed = store.attachments
      .ofInstance(source.uuid)
      .map((a) => store.volumes.get({ uuid: a.volumeUuid })!)
      .find((v) => v.kind === "managed");
    if (managed) throw new ApiError("BRANCH_MANAGED_VOLUME", messages.branchManagedVolume(managed.name), "branch_from");
    // A warm branch starts from a memory snapshot whose devices are fixed: no volume can be added.
    const warm = source.state === "running" || (source.state === "standby" && source.snapshotUuid !== null);
    if (warm && (req.volumes?.length ?? 0) > 0)
      throw new ApiError("VALIDATION_FAILED", `Cannot add volumes to a branch of '${source.name}': it starts from a memory snapshot whose devices are fixed`, "volumes");
    const names = this.namesOf(source, req);
    names.forEach((n) => this.instances.checkNameFree(n));
    // Claimed before any await: a second request for this source now gets the pending-snapshot 409.
    if (!this.snapshots.claim(source.uuid)) throw await this.pendingSnapshot(source.uuid);
    // The source's lock is held until its snapshot is complete, so a stop or delete waits for it.
    // A wait that ends in LOCK_TIMEOUT gives the claim back: the source has no snapshot in progress.
    // With its volumes' locks: a branch freezes their heads, which a clone of them must not do at the same time.
    const release = await this.ctx.locks.holdChecked(() => [instanceKey(source.uuid), ...this.volumeKeysOf(source.uuid)]).catch((err: unknown) => {
      this.snapshots.unclaim(source.uuid);
      throw err;
    });
    let background = false;
    try {
      const src = store.instances.get({ uuid: source.uuid });
      if (!src) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${refId(req.branch_from!)}' not found`);
      // Converted into a template while this waited for its lock: its state is stopped or standby, but it is not a source.
      if (src.isTemplate) throw new ApiError("BRANCH_INVALID_STATE", messages.branchBadState(instanceState(src)));
      if (src.state === "running") {
        // Once the snapshot is taken, its background copy owns the claim and the lock, also when
        // the branch's own record then fails: they are released when the copy ends, not before.
        return await this.fromRunning(src, req, names, release, () => (background = true));
      }
      if (src.state === "stopped" || src.state === "standby") return await this.allResting(src, req, names);
      throw new ApiError("BRANCH_INVALID_STATE", messages.branchBadState(src.state));
    } finally {
      if (!background) {
        this.snapshots.unclaim(source.uuid);
        release();
      }
    }
  }

  /** The names of the branches `req` makes: its `name` (numbered `-1` … when it makes several), else new ones after the source's. */
  private namesOf(source: InstanceRecord, req: InstanceCreateRequest): string[] {
    const count = req.count ?? 1;
    if (req.name !== undefined) return count === 1 ? [req.name] : Array.from({ length: count }, (_, i) => `${req.name}-${i + 1}`);
    const names = new Set<string>();
    while (names.size < count) names.add(`${source.name}-branch-${generateName().split("-")[1]}`.slice(0, 63));
    return [...names];
  }

  /** The reference's refusal of a second snapshot in flight, with when to ask again if it can be told. */
  private async pendingSnapshot(sourceUuid: string): Promise<ApiError> {
    return new ApiError("BRANCH_PENDING_SNAPSHOT", messages.branchPendingSnapshot, undefined, undefined, await this.snapshots.retryAfterMs(sourceUuid));
  }

  /** Lock keys of the volumes attached to instance `uuid`. */
  private volumeKeysOf(uuid: string): string[] {
    return this.ctx.store.attachments.ofInstance(uuid).map((a) => volumeKey(a.volumeUuid));
  }

  /** The request's own ports when it names any, else the source's guest ports with new host ports. */
  private portsFor(src: InstanceRecord, req: InstanceCreateRequest) {
    return req.ports ?? portSpecsFrom(this.ctx.store.ports.ofInstance(src.uuid));
  }

  /** The record of a new branch of `src`. */
  private branchRecord(src: InstanceRecord, req: InstanceCreateRequest, name: string, warm: boolean, branch: BranchRecord): InstanceRecord {
    return instanceFromSource(src, req, name, warm, { branch });
  }

  /**
   * Branch a running source: live snapshot now, restore in the background. Caller holds the
   * source lock and the claim; once the snapshot is taken (`handOff`), the background work
   * releases both when the RAM copy ends.
   */
  private async fromRunning(src: InstanceRecord, req: InstanceCreateRequest, names: string[], releaseSource: () => void, handOff: () => void): Promise<Instance[]> {
    // A batch beside its source is refused whole before the pause when the host has no room for all of its branches.
    if (names.length > 1 && (req.host ?? src.host) === src.host)
      await requireCapacity(this.ctx, src.host, { memoryMb: placeNeed(src.memoryMb, "live", names.length).beside, ramDirMb: src.memoryMb }, `branch instance '${src.name}' ${names.length} times`);
    const { snapshot, completed } = await this.snapshots.takeLive(src, "branch", req.quiesce);
    handOff();
    const done = completed.finally(() => {
      this.snapshots.unclaim(src.uuid);
      releaseSource();
    });
    const branch: BranchRecord = {
      sourceUuid: src.uuid, sourceName: src.name, snapshotUuid: snapshot.uuid, snapshotAt: snapshot.createdAt,
      sourcePauseMs: snapshot.pauseMs, snapshotMs: null, restoreMs: null, phase: "SnapshotInProgress", fromMemory: true,
      quiesced: snapshot.machine.quiesced === true, message: null,
    };
    const made: Instance[] = [];
    try {
      for (const name of names) {
        const rec = this.branchRecord(src, req, name, true, branch);
        made.push(await this.instances.createWith(rec, [], this.portsFor(src, req), async () => {}, async () => {
          this.ctx.store.instances.update({ uuid: rec.uuid }, { state: "starting" });
        }));
        if (names.length > 1) await failpoint("branch.batch-after-record");
      }
    } catch (err) {
      // All of a batch or none: the branches recorded before the failure go (none has a VM yet).
      await this.discardAll(made);
      void done.catch(() => {}).then(() => this.snapshots.release(snapshot.uuid));
      throw err;
    }
    void this.finishAll(made.map((v) => v.uuid), snapshot, done, src.uuid);
    return made;
  }

  /** Restore every branch of one live snapshot, together; the snapshot is released once all of them are done with it. */
  private async finishAll(uuids: string[], snapshot: SnapshotRecord, completed: Promise<void>, sourceUuid: string): Promise<void> {
    try {
      await Promise.all(uuids.map((uuid) => this.finishRunning(uuid, snapshot, completed, sourceUuid)));
    } finally {
      await untilRecorded(this.ctx.log, `releasing snapshot ${snapshot.uuid} of ${uuids.length === 1 ? `branch ${uuids[0]}` : `${uuids.length} branches`}`, () => this.snapshots.release(snapshot.uuid));
    }
  }

  private setPhase(uuid: string, phase: BranchRecord["phase"], message: string | null = null): void {
    const cur = this.ctx.store.instances.get({ uuid });
    if (cur?.branch) this.ctx.store.instances.update({ uuid }, { branch: { ...cur.branch, phase, message } });
    this.ctx.events.emit("instance", uuid, cur?.state ?? "deleted");
  }

  /** Restore branch `uuid` from `snapshot` once its copy is `completed`; a failure is recorded on the branch, never thrown. */
  private async finishRunning(uuid: string, snapshot: SnapshotRecord, completed: Promise<void>, sourceUuid: string): Promise<void> {
    const store = this.ctx.store;
    try {
      await completed;
      const completedAt = Date.now();
      const snapshotMs = completedAt - Date.parse(snapshot.createdAt);
      // A database that goes down under the restore is waited out and the restore made again: its
      // reverter undoes what the attempt made (waiting for the database too), and a VM it started
      // is recorded before the start returns.
      await whileUnavailable(this.ctx.log, `restoring branch ${uuid}`, () => this.ctx.locks.with([instanceKey(uuid)], async () => {
        const rec = store.instances.get({ uuid });
        if (!rec) return;
        this.setPhase(uuid, "CreatingTarget");
        const disks = store.snapshotDisks.ofSnapshot(snapshot.uuid);
        const ready = store.snapshots.get({ uuid: snapshot.uuid })!;
        await this.instances.withReverter(async (rev) => {
          // On another host than the snapshot's, the branch starts from copies of its files there.
          await this.sentTo(uuid, ready, disks, rec.host, async () => {
            await attachSnapshotDisks(this.ctx, this.volumes, rev, rec, disks);
            await failpoint("branch.before-restore");
            this.setPhase(uuid, "RestoreInProgress");
            const cur = store.instances.get({ uuid })!;
            const succeeded = () => ({ branch: { ...cur.branch!, phase: "Succeeded" as const, message: null, snapshotMs, restoreMs: Date.now() - completedAt } });
            if (rec.autostart) await this.instances.runtime.start(cur, { kind: "snapshot", snapshot: ready, vmgenid: newUuid() }, succeeded);
            else this.instances.runtime.setState(uuid, { state: "stopped", ...succeeded() });
          });
        });
      }, { timeoutMs: BACKGROUND_LOCK_WAIT_MS }));
      this.ctx.log.info({ instance: uuid, source: sourceUuid }, "branch running");
      this.snapshots.flattenDeepChains(uuid);
      this.snapshots.flattenDeepChains(sourceUuid);
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.error({ instance: uuid, err: message }, "branch failed");
      await untilRecorded(this.ctx.log, `recording the failed branch ${uuid}`, async () => {
        if (!store.instances.get({ uuid })) return;
        this.instances.runtime.setState(uuid, { state: "error", error: message });
        this.setPhase(uuid, "Failed", message);
        await this.instances.releasePorts(uuid);
      });
    }
  }

  /**
   * Run `fn`, which makes branch `uuid` on `host` from `snapshot`, with what it needs readable
   * there: on another host than the snapshot's, the frozen layers of its read-write disks (with
   * the layers below them) that `host` lacks are copied there, cached by id, and its memory files
   * lent for as long as `fn` runs. Memory and disks stay of one instant: all of it is immutable.
   */
  private async sentTo<T>(uuid: string, snapshot: SnapshotRecord, disks: readonly SnapshotDiskRecord[], host: string | null | undefined, fn: () => Promise<T>): Promise<T> {
    const target = host ?? this.ctx.config.hostName;
    const started = Date.now();
    let layerBytes = 0;
    for (const d of disks) if (!d.readonly) layerBytes += await this.volumes.disks.copyTo(d.diskId, target);
    const sent = (memoryBytes: number) => {
      if (layerBytes + memoryBytes > 0) this.ctx.log.info({ instance: uuid, host: target, layerBytes, memoryBytes, ms: Date.now() - started }, "branch snapshot sent to its host");
    };
    return this.instances.runtime.lent.on(snapshot, target, fn, sent);
  }

  /**
   * Branch a stopped or standby source once per name, one after the other; a failure removes the
   * branches made before it. Caller holds the source lock and the claim.
   */
  private async allResting(src: InstanceRecord, req: InstanceCreateRequest, names: string[]): Promise<Instance[]> {
    const made: Instance[] = [];
    try {
      for (const name of names) made.push(await this.fromResting(src, req, name));
    } catch (err) {
      await this.discardAll(made);
      throw err;
    }
    return made;
  }

  /** Remove the branches a failed batch made before its failure. */
  private async discardAll(made: readonly Instance[]): Promise<void> {
    for (const v of made)
      await this.instances.discard(v.uuid).catch((e: Error) => this.ctx.log.error({ instance: v.uuid, err: e.message }, "could not remove a branch of a failed batch"));
  }

  /** Branch a stopped or standby source at once. Caller holds the source lock and the claim. */
  private async fromResting(src: InstanceRecord, req: InstanceCreateRequest, name: string): Promise<Instance> {
    const store = this.ctx.store;
    const standby = src.state === "standby" && src.snapshotUuid ? store.snapshots.get({ uuid: src.snapshotUuid }) : null;
    // Refused before the source's disks are frozen: a refusal changes nothing.
    if (standby) this.instances.runtime.requireRestorable(standby, req.host ?? src.host);
    const frozen = await this.snapshots.freezeStopped(src);
    const disks = store.attachments
      .ofInstance(src.uuid)
      .filter((a) => frozen.has(a.volumeUuid))
      .map((a) => ({ volumeUuid: a.volumeUuid, diskId: frozen.get(a.volumeUuid)!, at: a.at, readonly: a.readonly, position: a.position }));
    const branch: BranchRecord = {
      sourceUuid: src.uuid, sourceName: src.name, snapshotUuid: standby?.uuid ?? null, snapshotAt: standby?.createdAt ?? null,
      sourcePauseMs: 0, snapshotMs: null, restoreMs: null, phase: "CreatingTarget", fromMemory: standby !== null, message: null,
    };
    const rec = this.branchRecord(src, req, name, standby !== null, branch);
    const view = await this.instances.createWith(
      rec,
      standby ? [] : (req.volumes ?? []),
      this.portsFor(src, req),
      async (rev, r) => {
        await attachSnapshotDisks(this.ctx, this.volumes, rev, r, disks);
      },
      async (r) => {
        const succeeded = { branch: { ...r.branch!, phase: "Succeeded" as const } };
        if (r.autostart) {
          this.setPhase(r.uuid, "RestoreInProgress");
          const cur = store.instances.get({ uuid: r.uuid })!;
          await this.instances.runtime.start(cur, standby ? { kind: "snapshot", snapshot: standby, vmgenid: newUuid() } : { kind: "boot" }, succeeded);
        } else this.setPhase(r.uuid, "Succeeded");
      },
    );
    this.snapshots.flattenDeepChains(src.uuid);
    this.snapshots.flattenDeepChains(rec.uuid);
    return view;
  }
}
