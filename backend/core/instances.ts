/**
 * Instances: create from an image (branches and templates are delegated), list, get, PATCH,
 * delete, start/stop/suspend, wait and the serial log. Each mutation holds the instance's lock;
 * creation uses a reverter so a failure leaves no process, file, row or port behind.
 */
import type { Instance, InstanceCreateRequest, InstanceLog, InstancePatchOp, InstanceState, InstanceVolumeSpec, PortSpec } from "vmbranch/sdk";
import { failpoint } from "../host/failpoints";
import type { InstanceRecord } from "../store/records";
import { home, on, type CoreContext } from "./context";
import { ApiError } from "./errors";
import { hostError } from "./host-errors";
import { generateName, newMac, newSmbiosSerial, now } from "./identity";
import { requireHostOnline } from "./hosts";
import { hostnameFor, newInstanceRecord } from "./instance-records";
import { instanceKey, volumeKey } from "./locks";
import { findInstance, isPlainInstance, patchTags, requireInstance } from "./lookup";
import { allocatePorts } from "./ports";
import { Reverter } from "./reverter";
import { storeReverter } from "./background";
import { Runtime } from "./runtime";
import { insertUnique } from "./unique";
import { Snapshots } from "./snapshots";
import { instanceState, instanceView, loadedRelations } from "./views";
import type { Volumes } from "./volumes";

/** Defaults of a create request. */
export const INSTANCE_DEFAULTS = { memoryMb: 128, vcpus: 1, autostart: true } as const;

/** Instance operations. */
export class Instances {
  constructor(
    private readonly ctx: CoreContext,
    readonly runtime: Runtime,
    private readonly volumes: Volumes,
    private readonly snapshots: Snapshots,
  ) {}

  /** Wire view of a record. */
  view(r: InstanceRecord): Instance {
    return instanceView(this.ctx.store, r, this.networkOf(r));
  }

  /** The guest network of `r`'s host; a view of what is on a host no agent here runs shows the home host's (every host gives guests the same). */
  private networkOf(r: InstanceRecord) {
    return (this.ctx.hosts.get(r.host ?? this.ctx.config.hostName) ?? home(this.ctx)).vm.network;
  }

  /** A view function for a list: the related rows of every instance are read once, up front. */
  viewer(): (r: InstanceRecord) => Instance {
    const rel = loadedRelations(this.ctx.store);
    return (r) => instanceView(this.ctx.store, r, this.networkOf(r), rel);
  }

  /** Throw NAME_TAKEN when an instance or template already has `name`. */
  checkNameFree(name: string): void {
    if (this.ctx.store.instances.named(name))
      throw new ApiError("NAME_TAKEN", `An instance named '${name}' already exists`, "name");
  }

  /** `POST /v1/instances` from an image. */
  async createFromImage(req: InstanceCreateRequest): Promise<Instance> {
    const name = req.name ?? generateName();
    this.checkNameFree(name);
    const image = await this.ctx.images.get(req.image!);
    if (!image) throw new ApiError("IMAGE_NOT_FOUND", `Image '${req.image}' not found; build it with 'vmbranch image build ${req.image}'`, "image");
    const rec = newInstanceRecord({
      name, image: req.image!, memoryMb: req.memory_mb ?? INSTANCE_DEFAULTS.memoryMb, vcpus: req.vcpus ?? INSTANCE_DEFAULTS.vcpus,
      args: req.args ?? [], env: req.env ?? {}, hostname: req.hostname ?? hostnameFor(name), mac: newMac(), smbiosSerial: newSmbiosSerial(),
      tags: req.tags ?? [], annotations: req.annotations ?? {}, deleteLock: req.delete_lock ?? false,
      autostart: req.autostart ?? INSTANCE_DEFAULTS.autostart, outboundNetwork: req.outbound_network ?? false,
    }, { host: req.host ?? this.ctx.config.hostName });
    return this.createWith(rec, req.volumes ?? [], req.ports ?? [], async () => {});
  }

  /**
   * Insert `rec` with its volumes and ports, run `prepare` (e.g. clone disks), then start it when
   * autostart is set — all under one reverter. Shared by image, template and branch creation.
   */
  async createWith(
    rec: InstanceRecord,
    volumes: readonly InstanceVolumeSpec[],
    ports: readonly PortSpec[],
    prepare: (rev: Reverter, rec: InstanceRecord) => Promise<void>,
    start?: (rec: InstanceRecord) => Promise<void>,
  ): Promise<Instance> {
    const store = this.ctx.store;
    this.runtime.checkOutboundNetwork(rec);
    const locked = volumes.filter((v) => v.size_mb === undefined && v.host_path === undefined).map((v) => v.uuid ?? v.name!);
    const existing = locked.map((id) => this.volumes.requireForAttach(id));
    return this.ctx.locks.with([instanceKey(rec.uuid), ...existing.map((v) => volumeKey(v.uuid))], async () => {
      const rev = storeReverter(this.ctx.log);
      try {
        const portRecords = await allocatePorts(store, on(this.ctx, rec.host).vm, rec.uuid, ports, { allowPrivileged: this.ctx.config.allowPrivilegedPorts });
        insertUnique(
          () =>
            store.tx(() => {
              store.instances.insert(rec);
              for (const p of portRecords) store.ports.insert(p);
            }),
          `An instance named '${rec.name}' already exists`,
        );
        rev.add("delete instance row", () => store.instances.remove(rec.uuid));
        // Cloned volumes first: they keep the device positions of the snapshot or template they come from.
        await prepare(rev, rec);
        for (const spec of volumes) await this.addVolume(rec, spec, rev);
        // Killed here, the instance stays as recorded: stopped, with its volumes (a truthful state).
        await failpoint("create.before-start");
        const fresh = store.instances.get({ uuid: rec.uuid })!;
        if (start) await start(fresh);
        else if (fresh.autostart) {
          await this.runtime.start(fresh, { kind: "boot" });
          rev.add("stop vm", () => this.runtime.handle(rec.uuid)?.kill());
        }
        rev.success();
      } catch (err) {
        await rev.revert();
        await this.runtime.cleanup(rec.uuid, rec.host);
        throw err;
      }
      this.ctx.log.info({ instance: rec.uuid, name: rec.name }, "instance created");
      return this.view(store.instances.get({ uuid: rec.uuid })!);
    });
  }

  /** Attach an existing volume or create an inline one for a new instance. */
  private async addVolume(rec: InstanceRecord, spec: InstanceVolumeSpec, rev: Reverter): Promise<void> {
    const creates = spec.size_mb !== undefined || spec.host_path !== undefined;
    let volumeUuid: string;
    if (creates) {
      const vol = await this.volumes.createRecord(
        { name: spec.name, size_mb: spec.size_mb, filesystem: spec.filesystem, host_path: spec.host_path, uid: spec.uid, gid: spec.gid },
        rev,
        rec.uuid,
      );
      volumeUuid = vol.uuid;
    } else {
      volumeUuid = this.volumes.requireForAttach(spec.uuid ?? spec.name!).uuid;
    }
    this.volumes.attachRecord(volumeUuid, rec.uuid, spec.at, spec.readonly ?? false);
    rev.add("detach volume", () => this.ctx.store.attachments.delete({ volumeUuid, instanceUuid: rec.uuid }));
  }

  /** `GET /v1/instances/{id}`. */
  get(id: string): Instance {
    return this.view(requireInstance(this.ctx.store, id));
  }

  /** Run `fn` on the current record of `id` while holding its lock (and those `more` names, taken together). */
  async locked<T>(id: string, fn: (rec: InstanceRecord) => Promise<T>): Promise<T>;
  async locked<T>(id: string, more: () => string[], fn: (rec: InstanceRecord) => Promise<T>): Promise<T>;
  async locked<T>(id: string, a: (() => string[]) | ((rec: InstanceRecord) => Promise<T>), b?: (rec: InstanceRecord) => Promise<T>): Promise<T> {
    const more = b ? (a as () => string[]) : () => [];
    const fn = b ?? (a as (rec: InstanceRecord) => Promise<T>);
    const found = requireInstance(this.ctx.store, id);
    return this.ctx.locks.withChecked(() => [instanceKey(found.uuid), ...more()], async () => {
      const rec = this.ctx.store.instances.get({ uuid: found.uuid });
      if (!rec || !isPlainInstance(rec)) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${id}' not found`);
      // Start, stop, suspend and delete all come through here.
      requireHostOnline(this.ctx.store, rec);
      return fn(rec);
    });
  }

  /**
   * `PATCH /v1/instances/{id}`. Every operation is checked against the state the earlier ones
   * would leave before any is applied: a refused request changes nothing.
   */
  async patch(id: string, ops: InstancePatchOp[]): Promise<Instance> {
    const store = this.ctx.store;
    const found = requireInstance(store, id);
    // Volumes named by the request are resolved (404) and locked before anything is decided.
    const volumeIds = ops.flatMap((op) =>
      op.prop !== "volumes" ? [] : op.op === "add" ? [(op.value.uuid ?? op.value.name)!] : [typeof op.value === "string" ? op.value : (op.value.uuid ?? op.value.name)!],
    );
    const vols = new Map(volumeIds.map((v) => [v, this.volumes.requireForAttach(v)]));
    return this.ctx.locks.with([instanceKey(found.uuid), ...[...vols.values()].map((v) => volumeKey(v.uuid))], async () => {
      const rec = store.instances.get({ uuid: found.uuid });
      if (!rec || !isPlainInstance(rec)) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${id}' not found`);
      requireHostOnline(store, rec, ...vols.values());
      const plan = await this.planPatch(rec, ops, vols);
      const handle = this.runtime.handle(rec.uuid);
      // The live VM's forwards change first, each with its undo: a failure then, or of the store
      // transaction, puts the VM back as the store still describes it.
      const rev = storeReverter(this.ctx.log, { instance: rec.uuid });
      await rev.run(async () => {
        if (handle) {
          for (const p of plan.ports.removed) {
            const f = { protocol: p.protocol, hostPort: p.hostPort, guestPort: p.guestPort };
            await handle.removeForward(f);
            rev.add("restore forward", () => handle.addForward(f));
          }
          for (const p of plan.ports.added) {
            const f = { protocol: p.protocol, hostPort: p.hostPort, guestPort: p.guestPort };
            await handle.addForward(f);
            rev.add("withdraw forward", () => handle.removeForward(f));
          }
        }
        this.commitPatch(rec, plan);
      });
      return this.view(store.instances.get({ uuid: rec.uuid })!);
    });
  }

  private commitPatch(rec: InstanceRecord, plan: Awaited<ReturnType<Instances["planPatch"]>>): void {
    const store = this.ctx.store;
    {
      store.tx(() => {
        store.instances.update({ uuid: rec.uuid }, { tags: plan.tags, annotations: plan.annotations, deleteLock: plan.deleteLock });
        for (const a of plan.detach) store.attachments.delete({ volumeUuid: a, instanceUuid: rec.uuid });
        let position = store.attachments.nextPosition(rec.uuid);
        for (const a of plan.attach) store.attachments.insert({ ...a, instanceUuid: rec.uuid, position: position++ });
        for (const p of plan.ports.removed) store.ports.delete(p);
        for (const p of plan.ports.added) store.ports.insert(p);
      });
    }
  }

  /** Check every operation in order against the state the earlier ones leave; the result is what to write. */
  private async planPatch(rec: InstanceRecord, ops: InstancePatchOp[], vols: Map<string, { uuid: string }>) {
    let tags = rec.tags;
    let annotations = { ...rec.annotations };
    let deleteLock = rec.deleteLock;
    const mounts = this.ctx.store.attachments.ofInstance(rec.uuid).map((a) => ({ volumeUuid: a.volumeUuid, at: a.at }));
    const attach: { volumeUuid: string; at: string; readonly: boolean }[] = [];
    const detach: string[] = [];
    let ports = this.ctx.store.ports.ofInstance(rec.uuid).map((p) => ({
      guest_port: p.guestPort, protocol: p.protocol, host_port: p.requested ? p.hostPort : undefined,
    })) as PortSpec[];
    const key = (p: { guest_port: number; protocol?: string }) => `${p.guest_port}/${p.protocol ?? "tcp"}`;
    let portsTouched = false;
    for (const op of ops) {
      switch (op.prop) {
        case "tags":
          tags = patchTags(tags, op.op, op.value);
          if (tags.length > 16) throw new ApiError("VALIDATION_FAILED", "'tags': at most 16 tags", "tags");
          break;
        case "annotations":
          if (op.op === "set") annotations = { ...op.value };
          else if (op.op === "add") annotations = { ...annotations, ...op.value };
          else for (const k of op.value as string[]) delete annotations[k];
          break;
        case "delete_lock":
          deleteLock = op.value;
          break;
        case "volumes": {
          if (op.op === "add") {
            const v = vols.get((op.value.uuid ?? op.value.name)!)!;
            if (attach.some((a) => a.volumeUuid === v.uuid))
              throw new ApiError("VOLUME_IN_USE", `Volume '${op.value.uuid ?? op.value.name}' is already attached to this instance`);
            this.volumes.checkAttach(v.uuid, rec.uuid, op.value.at, op.value.readonly ?? false, mounts);
            attach.push({ volumeUuid: v.uuid, at: op.value.at, readonly: op.value.readonly ?? false });
            mounts.push({ volumeUuid: v.uuid, at: op.value.at });
          } else {
            const v = vols.get(typeof op.value === "string" ? op.value : (op.value.uuid ?? op.value.name)!)!;
            const planned = attach.findIndex((a) => a.volumeUuid === v.uuid);
            if (planned >= 0) attach.splice(planned, 1);
            else {
              this.volumes.checkDetach(v.uuid, rec.uuid);
              detach.push(v.uuid);
            }
            mounts.splice(mounts.findIndex((m) => m.volumeUuid === v.uuid), 1);
          }
          break;
        }
        case "ports":
          portsTouched = true;
          if (op.op === "set") ports = op.value;
          else if (op.op === "add") ports = [...ports.filter((p) => !op.value.some((v) => key(v) === key(p))), ...op.value];
          else ports = ports.filter((p) => !op.value.includes(p.guest_port));
          break;
      }
    }
    return { tags, annotations, deleteLock, attach, detach, ports: portsTouched ? await this.planPorts(rec, ports) : { added: [], removed: [] } };
  }

  /** Host ports for the wanted `specs`: ports that stay keep their host port, so addresses do not move. */
  private async planPorts(rec: InstanceRecord, specs: PortSpec[]) {
    const current = this.ctx.store.ports.ofInstance(rec.uuid);
    const key = (guestPort: number, protocol: string | undefined) => `${guestPort}/${protocol ?? "tcp"}`;
    const kept = current.filter((p) =>
      specs.some((s) => key(s.guest_port, s.protocol) === key(p.guestPort, p.protocol) && (s.host_port === undefined || s.host_port === p.hostPort)),
    );
    const fresh = specs.filter((s) => !kept.some((p) => key(s.guest_port, s.protocol) === key(p.guestPort, p.protocol)));
    const added = await allocatePorts(this.ctx.store, on(this.ctx, rec.host).vm, rec.uuid, fresh, { allowPrivileged: this.ctx.config.allowPrivilegedPorts });
    return { added, removed: current.filter((p) => !kept.includes(p)) };
  }

  /** `DELETE /v1/instances/{id}`: stops the VM, removes inline volumes, detaches the others. */
  async delete(id: string): Promise<Instance> {
    // With its volumes' locks: its inline volumes go with it, and no clone of one may be freezing it meanwhile.
    const found = requireInstance(this.ctx.store, id);
    const volumes = () => this.ctx.store.attachments.ofInstance(found.uuid).map((a) => volumeKey(a.volumeUuid));
    return this.locked(id, volumes, async (rec) => {
      if (rec.deleteLock)
        throw new ApiError("DELETE_LOCKED", `Instance '${rec.name}' has a delete lock; unset it with PATCH delete_lock first`);
      await this.destroy(rec);
      return { ...this.viewDeleted(rec) };
    });
  }

  /** Remove an instance a request made and then undid (a batch of branches that failed part way): its delete lock does not apply. */
  async discard(uuid: string): Promise<void> {
    const volumes = () => this.ctx.store.attachments.ofInstance(uuid).map((a) => volumeKey(a.volumeUuid));
    await this.locked(uuid, volumes, (rec) => this.destroy(rec));
  }

  private viewDeleted(rec: InstanceRecord): Instance {
    return { ...this.view({ ...rec }), state: "deleted", volumes: [], ports: [] };
  }

  /** Remove an instance and what it owns. Caller holds the lock and checked the delete lock. */
  async destroy(rec: InstanceRecord): Promise<void> {
    const store = this.ctx.store;
    this.requireReachable(rec);
    const inline = store.attachments.ofInstance(rec.uuid).map((a) => store.volumes.get({ uuid: a.volumeUuid })!).filter((v) => v && !v.persistent);
    // Refused before anything changes, as a volume's own delete is.
    for (const v of inline) this.volumes.checkNoActiveClones(v);
    if (this.runtime.handle(rec.uuid)) await this.runtime.stop(rec, { force: true, timeoutMs: 0, reason: "deleted" });
    // Its inline volumes go with it in one transaction: none outlives its instance, whatever follows.
    store.tx(() => {
      store.instances.remove(rec.uuid);
      for (const v of inline) store.volumes.remove(v.uuid);
    });
    // Files whose rows are gone are the doctor's to remove (at the next start) if serve dies here;
    // a failure here does not undo the delete: the rest is released all the same.
    await failpoint("delete.after-rows").catch((err: Error) => this.ctx.log.error({ instance: rec.uuid, err: err.message }, "a failure after an instance's rows were deleted; releasing the rest"));
    for (const v of inline) await this.volumes.releaseData(v);
    if (rec.snapshotUuid) await this.snapshots.release(rec.snapshotUuid);
    await this.runtime.cleanup(rec.uuid, rec.host);
    this.ctx.events.emit("instance", rec.uuid, "deleted");
    this.ctx.log.info({ instance: rec.uuid, name: rec.name }, "instance deleted");
  }

  /** Refuse to act on an instance whose QEMU runs but did not answer since a restart: its files are in use. */
  private requireReachable(rec: InstanceRecord): void {
    if (this.runtime.isUnreachable(rec.uuid))
      throw new ApiError("INVALID_STATE", `Instance '${rec.name}' has a VM process that runs but has not answered since vmbranch restarted; vmbranch keeps trying to reach it`);
  }

  /**
   * `PUT /v1/instances/{id}/start`: cold boot from stopped, warm resume from standby. Holds the
   * locks of its volumes too, so no offline freeze (a clone) runs while QEMU opens them.
   */
  async start(id: string): Promise<Instance> {
    const found = requireInstance(this.ctx.store, id);
    const volumes = () => this.ctx.store.attachments.ofInstance(found.uuid).map((a) => volumeKey(a.volumeUuid));
    return this.locked(id, volumes, async (rec) => {
      this.requireReachable(rec);
      if (rec.state === "running" || rec.state === "starting") return this.view(rec);
      const stalled = rec.state === "error" ? this.runtime.handle(rec.uuid) : undefined;
      if (stalled) {
        // Its VM stalled (disk full, I/O error) and is still there: run it again where it stopped.
        await stalled.resume().catch((err: unknown) => {
          throw hostError(err, `Cannot resume instance '${rec.name}'`, this.ctx.log);
        });
        this.runtime.setState(rec.uuid, { state: "running", error: null });
        return this.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
      }
      if (rec.state === "standby") {
        const snap = this.ctx.store.snapshots.get({ uuid: rec.snapshotUuid! })!;
        await this.runtime.start(rec, { kind: "snapshot", snapshot: snap, vmgenid: snap.machine.vmgenid });
        this.ctx.store.instances.update({ uuid: rec.uuid }, { snapshotUuid: null });
        await this.snapshots.release(snap.uuid);
      } else if (rec.state === "stopped" || rec.state === "error") {
        await this.runtime.start(rec, { kind: "boot" });
      } else {
        throw new ApiError("INVALID_STATE", `Cannot start instance '${rec.name}' in state '${rec.state}'`);
      }
      return this.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
    });
  }

  /** `PUT /v1/instances/{id}/stop`. */
  async stop(id: string, opts: { force?: boolean; timeout_s?: number }): Promise<Instance> {
    return this.locked(id, async (rec) => {
      this.requireReachable(rec);
      if (rec.state === "stopped") return this.view(rec);
      if (rec.state === "standby") {
        // Stopping a suspended instance drops its memory: the next start is a cold boot.
        const snap = rec.snapshotUuid;
        this.runtime.setState(rec.uuid, { state: "stopped", snapshotUuid: null, stoppedAt: now(), stopReason: "stopped from standby" });
        if (snap) await this.snapshots.release(snap);
        return this.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
      }
      if (rec.state === "error" && !this.runtime.handle(rec.uuid)) {
        this.runtime.setState(rec.uuid, { state: "stopped" });
        return this.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
      }
      const timeoutMs = opts.timeout_s !== undefined ? opts.timeout_s * 1000 : this.ctx.config.stopTimeoutMs;
      await this.runtime.stop(rec, { force: opts.force ?? false, timeoutMs, reason: opts.force ? "forced stop by request" : "stopped by request" });
      return this.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
    });
  }

  /** `PUT /v1/instances/{id}/suspend`: memory snapshot, then `standby`. */
  async suspend(id: string): Promise<Instance> {
    return this.locked(id, async (rec) => {
      if (rec.state === "standby") return this.view(rec);
      if (rec.state !== "running") throw new ApiError("INVALID_STATE", `Cannot suspend instance '${rec.name}' in state '${rec.state}'`);
      await this.snapshots.suspend(rec);
      return this.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
    });
  }

  /** `GET /v1/instances/{id}/wait`: resolves when the instance is in `state`; 408 after the timeout. */
  async wait(id: string, state: InstanceState, timeoutMs: number, signal?: AbortSignal): Promise<Instance> {
    const rec = requireInstance(this.ctx.store, id);
    // The state the API shows: an instance converted into a template meanwhile reads 'template'.
    const current = () => {
      const cur = this.ctx.store.instances.get({ uuid: rec.uuid });
      return cur ? instanceState(cur) : "deleted";
    };
    // `error` ends a wait for any other state at once: it will not leave it by itself.
    const reached = await this.ctx.events.waitFor("instance", rec.uuid, current, (s) => s === state || s === "deleted" || s === "error", timeoutMs, signal);
    if (reached === state) return state === "deleted" ? this.viewDeleted(rec) : this.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
    if (reached === "deleted") throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${rec.name}' was deleted while waiting for state '${state}'`);
    if (reached === "error") {
      const cur = this.ctx.store.instances.get({ uuid: rec.uuid });
      throw new ApiError("INVALID_STATE", `Instance '${rec.name}' entered state 'error' while waiting for state '${state}': ${cur?.error ?? cur?.branch?.message ?? "see its log"}`);
    }
    throw new ApiError("WAIT_TIMEOUT", `Instance '${rec.name}' did not reach state '${state}' within ${timeoutMs / 1000}s (it is '${current()}')`);
  }

  /**
   * `GET /v1/instances/{id}/log`: at most `limit` bytes of the serial console from `offset` (a
   * negative offset counts from the end; one older than what is kept starts at the oldest byte
   * still kept), base64 in `output`, with the range returned and the range available (both
   * end-exclusive; `available.start` moves on as old output is rotated out).
   */
  async log(id: string, offset = 0, limit = 256 * 1024): Promise<InstanceLog> {
    const rec = requireInstance(this.ctx.store, id);
    // The console log is a file on the instance's host: out of reach while that host is.
    requireHostOnline(this.ctx.store, rec);
    const slice = await on(this.ctx, rec.host).vm.readConsole(this.runtime.runDirOf(rec.uuid), offset, limit);
    return {
      uuid: rec.uuid, name: rec.name, output: slice.output.toString("base64"), available: { start: slice.first, end: slice.size },
      range: { start: slice.offset, end: slice.nextOffset }, state: rec.state,
    };
  }

  /** Run `fn` with a reverter that undoes its steps when it throws. */
  async withReverter<T>(fn: (rev: Reverter) => Promise<T>): Promise<T> {
    return storeReverter(this.ctx.log).run(fn);
  }

  /** Give back the host ports of an instance (a failed branch keeps its row for the record, not its ports). */
  async releasePorts(uuid: string): Promise<void> {
    this.ctx.store.ports.removeOf(uuid);
  }

  /** Find by id without throwing (for callers that branch on existence). */
  find(id: string): InstanceRecord | null {
    return findInstance(this.ctx.store, id);
  }
}
