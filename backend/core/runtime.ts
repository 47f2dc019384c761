/**
 * The live side of instances: turns records into launch specs, starts VMs (cold or warm), keeps
 * one watcher per VM that records boot and exit, stops them gracefully or by force, and after a
 * restart of the service reattaches to VMs that survived. State transitions happen here and are
 * announced on the event bus. Callers hold the instance lock.
 */
import { dirname, join } from "node:path";
import { failpoint } from "../host/failpoints";
import { HUGE_PAGE_MB, type GuestConfig, type GuestMount, type VmAlert, type VmDisk, type VmExit, type VmHandle, type VmLaunchSpec, type VmShare } from "../host/vm-driver";
import { StoreUnavailable } from "../store/engine";
import type { InstanceRecord, MachineRecord, SnapshotRecord } from "../store/records";
import { STORE_RETRY_MS, untilRecorded, whileUnavailable } from "./background";
import { requireCapacity, startNeed } from "./capacity";
import { on, type CoreContext } from "./context";
import { ApiError } from "./errors";
import { hostError } from "./host-errors";
import { drivenHere } from "./hosts";
import { diskIdOf, diskSerial, newUuid, now, shareTag } from "./identity";
import { MemoryCopies } from "./memory-copies";

/** How long to wait before trying again to reach a live VM that did not answer at reattach. */
const REATTACH_RETRY_MS = 5_000;

/** Memory of a start: a cold boot, or a warm start from a snapshot with a given VM generation ID. */
export type StartMemory = { kind: "boot" } | { kind: "snapshot"; snapshot: SnapshotRecord; vmgenid: string };

/** Live VMs and their lifecycle. */
export class Runtime {
  private readonly handles = new Map<string, VmHandle>();
  /** Copies of memory snapshot files lent to the hosts of instances restored from them there. */
  readonly lent: MemoryCopies;

  constructor(private readonly ctx: CoreContext) {
    this.lent = new MemoryCopies(ctx);
  }

  /** Runtime directory of an instance. */
  runDirOf(uuid: string): string {
    return join(this.ctx.config.runDir, uuid);
  }

  /** The live VM of an instance, if it has one. */
  handle(uuid: string): VmHandle | undefined {
    return this.handles.get(uuid);
  }

  /** Record a state change and announce it. */
  setState(uuid: string, changes: Partial<InstanceRecord>): InstanceRecord {
    this.ctx.store.instances.update({ uuid }, changes);
    const rec = this.ctx.store.instances.get({ uuid });
    if (rec) this.ctx.events.emit("instance", uuid, rec.state);
    return rec!;
  }

  /**
   * The machine configuration of an instance as a snapshot records it; `machineType` is the one
   * its VM runs as (a VM launched before types were pinned reports the alias: recorded as the pinned type).
   */
  machineOf(inst: InstanceRecord, accelerator: "kvm" | "tcg", vmgenid: string, machineType?: string): MachineRecord {
    const pinned = on(this.ctx, inst.host).vm.machine;
    return {
      image: inst.image, memoryMb: inst.memoryMb, vcpus: inst.vcpus, args: inst.args, env: inst.env,
      hostname: inst.hostname, mac: inst.mac, smbiosSerial: inst.smbiosSerial, vmgenid, accelerator,
      machineType: machineType && machineType !== "pc" ? machineType : pinned.machineType, qemuVersion: pinned.qemuVersion,
    };
  }

  /** Throw SNAPSHOT_INCOMPATIBLE when host `host` cannot load the memory snapshot `snap`. */
  requireRestorable(snap: SnapshotRecord, host: string | null | undefined): void {
    if (!snap.hasMemory) return;
    const vm = on(this.ctx, host).vm;
    const recorded = { machineType: snap.machine.machineType ?? vm.machine.machineType, qemuVersion: snap.machine.qemuVersion ?? vm.machine.qemuVersion };
    const why = vm.restoreRefusal(recorded);
    if (why)
      throw new ApiError(
        "SNAPSHOT_INCOMPATIBLE",
        `Cannot restore the memory snapshot of '${snap.sourceName}': ${why}; only a host with that QEMU can restore it (a standby instance can be stopped instead, which discards its memory)`,
      );
  }

  /** Record the pinned machine type in memory snapshots written before types were recorded (they ran as its alias on the home host, the only one then). */
  recordLegacyMachines(): void {
    const pinned = on(this.ctx, null).vm.machine;
    for (const s of this.ctx.store.snapshots.all())
      if (s.machine.machineType === undefined) this.ctx.store.snapshots.update({ uuid: s.uuid }, { machine: { ...s.machine, ...pinned } });
  }

  /** Build the launch spec of an instance from its records. */
  async launchSpec(inst: InstanceRecord, memory: StartMemory): Promise<VmLaunchSpec> {
    const store = this.ctx.store;
    const host = on(this.ctx, inst.host);
    this.checkOutboundNetwork(inst);
    const image = await this.ctx.images.get(inst.image);
    if (!image) throw new ApiError("IMAGE_NOT_FOUND", `Image '${inst.image}' not found; build it with 'vmbranch image build ${inst.image}'`, "image");
    const disks: VmDisk[] = [];
    const shares: VmShare[] = [];
    const mounts: GuestMount[] = [];
    for (const a of store.attachments.ofInstance(inst.uuid)) {
      const v = store.volumes.get({ uuid: a.volumeUuid })!;
      if (v.kind === "managed") {
        // The operator may have withdrawn the root since the volume was made.
        if (!host.storage.underAllowedRoot(v.hostPath!, this.ctx.config.allowedHostPaths))
          throw new ApiError("HOST_PATH_UNSAFE", `Cannot start instance '${inst.name}': volume '${v.name}' shares '${v.hostPath}', which is no longer under an allowed root (--allow-host-path)`);
        const tag = shareTag(v.uuid);
        shares.push({ id: `share${a.position}`, slot: a.position, tag, hostPath: v.hostPath!, readonly: a.readonly });
        mounts.push({ kind: "9p", tag, at: a.at, readonly: a.readonly, uid: v.uid ?? 0, gid: v.gid ?? 0 });
      } else {
        const serial = diskSerial(v.uuid);
        const disk = store.disks.get({ id: v.headDisk! })!;
        disks.push({ id: diskIdOf(a.position), slot: a.position, path: disk.path, serial, readonly: a.readonly });
        mounts.push({ kind: "block", serial, at: a.at, readonly: a.readonly, fstype: host.storage.filesystem(v.filesystem ?? "ext4")?.guestFstype ?? "ext4" });
      }
    }
    const net = host.vm.network;
    const guest: GuestConfig = {
      hostname: inst.hostname, args: inst.args, env: inst.env, mounts,
      network: { address: `${net.guestIp}/${net.prefixLength}`, gateway: net.gateway, dns: net.dns },
    };
    const forwards = store.ports
      .ofInstance(inst.uuid)
      .map((p) => ({ protocol: p.protocol, hostPort: p.hostPort, guestPort: p.guestPort }));
    // A RAM image is mapped into the guest: only one from the verified RAM directory is trusted.
    if (memory.kind === "snapshot" && dirname(memory.snapshot.ramPath ?? "") !== this.ctx.config.ramDir)
      throw new ApiError(
        "INVALID_STATE",
        `The memory snapshot of instance '${inst.name}' is not in the RAM directory ${this.ctx.config.ramDir} (it was lost, e.g. by a reboot); stop the instance to discard it`,
      );
    if (memory.kind === "snapshot") this.requireRestorable(memory.snapshot, inst.host);
    const accelerator = memory.kind === "snapshot" ? memory.snapshot.machine.accelerator : await host.accelerator();
    return {
      uuid: inst.uuid, name: inst.name, runDir: this.runDirOf(inst.uuid), image, memoryMb: inst.memoryMb, vcpus: inst.vcpus,
      accelerator, machineType: memory.kind === "snapshot" ? memory.snapshot.machine.machineType ?? host.vm.machine.machineType : host.vm.machine.machineType,
      guest, disks, shares, mac: inst.mac, forwards, outboundNetwork: inst.outboundNetwork, smbiosSerial: inst.smbiosSerial,
      consoleLogMaxBytes: this.ctx.config.consoleLogMaxBytes,
      vmgenid: memory.kind === "snapshot" ? memory.vmgenid : newUuid(),
      // A restore has exactly its snapshot's devices: the agent's channel only if the source had it.
      guestAgent: memory.kind === "snapshot" ? memory.snapshot.machine.guestAgent === true : true,
      memory: memory.kind === "snapshot"
        ? { kind: "snapshot", ramPath: memory.snapshot.ramPath!, devstatePath: memory.snapshot.devstatePath!, quiesced: memory.snapshot.machine.quiesced === true }
        : { kind: "boot", hugePages: this.hugePagesFor(inst.memoryMb) },
    };
  }

  /** True when a cold boot of `memoryMb` keeps its RAM in huge pages: the operator asked for them, and the memory is whole pages. */
  private hugePagesFor(memoryMb: number): boolean {
    return this.ctx.config.hugePages && memoryMb % HUGE_PAGE_MB === 0;
  }

  /** Throw HOST_FEATURE_UNAVAILABLE when `inst` wants outbound network access its host cannot give safely. */
  checkOutboundNetwork(inst: Pick<InstanceRecord, "name" | "outboundNetwork" | "host">): void {
    const why = on(this.ctx, inst.host).outboundNetworkUnavailable;
    if (inst.outboundNetwork && why)
      throw new ApiError(
        "HOST_FEATURE_UNAVAILABLE",
        `Instance '${inst.name}' asks for outbound network access, which this host cannot give without exposing itself: the firewall rule that keeps guests off the host is not in place (${why})`,
        "outbound_network",
      );
  }

  /**
   * Launch the VM of a stopped (or standby) instance. Resolves once its process runs; a cold boot
   * continues in the background. `onRunning` is recorded together with the state that follows the
   * launch, so a waiter never sees the state without it.
   */
  async start(inst: InstanceRecord, memory: StartMemory, onRunning: Partial<InstanceRecord> | (() => Partial<InstanceRecord>) = {}): Promise<InstanceRecord> {
    const spec = await this.launchSpec(inst, memory);
    await requireCapacity(this.ctx, inst.host, startNeed(inst.memoryMb, memory.kind === "snapshot" ? "warm" : this.hugePagesFor(inst.memoryMb) ? "huge-pages" : "cold"), `start instance '${inst.name}'`);
    const vm = on(this.ctx, inst.host).vm;
    // The console log stays across starts (QEMU appends): a user reads one history per instance.
    await vm.prepareRunDir(spec.runDir);
    this.setState(inst.uuid, { state: "starting", exitCode: null, stopReason: null, error: null });
    let handle: VmHandle;
    try {
      // A memory snapshot on another host restores from copies of its files sent here for the launch.
      handle = memory.kind === "snapshot" ? await this.lent.on(memory.snapshot, inst.host ?? this.ctx.config.hostName, () => vm.launch(spec)) : await vm.launch(spec);
    } catch (err) {
      this.setState(inst.uuid, { state: inst.state === "standby" ? "standby" : "stopped" });
      throw this.launchError(inst.name, err);
    }
    await failpoint("start.after-launch").catch(async (err: Error) => {
      const ended = await handle.kill().then(
        () => true,
        (killErr: Error) => {
          this.ctx.log.error({ instance: inst.uuid, err: killErr.message }, "could not end the vm of a failed start");
          return false;
        },
      );
      if (ended) this.setState(inst.uuid, { state: inst.state === "standby" ? "standby" : "stopped" });
      else this.keepUnended(inst.uuid, handle, `its start failed (${err.message}) and its VM could not be ended`);
      throw this.launchError(inst.name, err);
    });
    const warm = memory.kind === "snapshot";
    // The VM runs: what says so waits out a database that is down rather than leave it untracked.
    const record = <T>(work: () => T) => whileUnavailable(this.ctx.log, `recording the start of instance ${inst.uuid}`, work);
    // From now on the guest may write its read-write volumes: import must not overwrite them.
    await record(() =>
      this.ctx.store.tx(() => {
        for (const a of this.ctx.store.attachments.readWriteOf(inst.uuid))
          this.ctx.store.volumes.update({ uuid: a.volumeUuid }, { populated: true });
      }),
    );
    const changes = {
      state: warm ? ("running" as const) : ("starting" as const),
      pid: handle.pid,
      accelerator: spec.accelerator,
      startedAt: now(),
      stoppedAt: null,
      startCount: inst.startCount + 1,
      bootTimeMs: warm ? 0 : null,
      ...(typeof onRunning === "function" ? onRunning() : onRunning),
    };
    const rec = await record(() => this.setState(inst.uuid, changes));
    this.adopt(inst.uuid, handle, !warm);
    return rec;
  }

  /** Track a VM: record readiness (when booting) and its exit. */
  adopt(uuid: string, handle: VmHandle, booting: boolean): void {
    this.handles.set(uuid, handle);
    // A VM that stalls on its own (disk full, I/O error, panic) is `error` with the reason while
    // QEMU keeps it; it is `running` again when it resumes (a start after space was freed).
    // What the watchers record waits for the state database when it is down (./background.ts); a
    // full data disk failing the store write is logged, and serve lives on.
    handle.onAlert((alert) => void untilRecorded(this.ctx.log, `recording a ${alert.kind} vm of instance ${uuid}`, () => this.onAlert(uuid, handle, alert)));
    if (booting) {
      handle.ready(this.ctx.config.bootTimeoutMs).then(
        ({ bootTimeMs }) =>
          untilRecorded(this.ctx.log, `recording the boot of instance ${uuid}`, () => {
            const cur = this.ctx.store.instances.get({ uuid });
            if (cur?.state === "starting" && this.handles.get(uuid) === handle) this.setState(uuid, { state: "running", bootTimeMs });
          }),
        (err: Error) => {
          this.ctx.log.warn({ instance: uuid, err: err.message }, "guest did not become ready");
          return untilRecorded(this.ctx.log, `recording the failed boot of instance ${uuid}`, () => {
            const cur = this.ctx.store.instances.get({ uuid });
            if (cur?.state !== "starting" || this.handles.get(uuid) !== handle) return;
            // A guest that exits during boot is recorded by the exit watcher; a hung one is stopped here.
            void handle.kill().catch((killErr: Error) => this.ctx.log.error({ instance: uuid, err: killErr.message }, "could not end a vm whose guest did not become ready"));
            this.setState(uuid, { error: `guest did not become ready: ${err.message}` });
          });
        },
      );
    }
    handle.exited.then((exit) => {
      // A handle that was forgotten (suspend) or replaced ended on purpose: nothing to record.
      if (this.handles.get(uuid) !== handle) return;
      this.handles.delete(uuid);
      return untilRecorded(this.ctx.log, `recording the exit of instance ${uuid}`, () => this.recordExit(uuid, exit));
    });
  }

  /** Record that the VM of `uuid` ended (`exit`), unless another VM of it was started meanwhile. */
  private recordExit(uuid: string, exit: VmExit): void {
    // While the exit waited for the database, the instance may have been stopped and started again.
    if (this.handles.has(uuid)) return;
    const cur = this.ctx.store.instances.get({ uuid });
    // A template is never seen here: it is converted from stopped or standby, reached only once its handle is gone.
    if (!cur || cur.state === "standby") return;
    const failed = cur.error !== null && cur.state === "starting";
    this.setState(uuid, {
      state: failed ? "error" : "stopped",
      pid: null,
      stoppedAt: now(),
      exitCode: exit.exitCode,
      stopReason: cur.stopReason ?? exit.reason,
    });
    this.ctx.log.info({ instance: uuid, exitCode: exit.exitCode, reason: exit.reason }, "vm exited");
  }

  /** Record a stall or a resume of the VM of `uuid` as its state. */
  private onAlert(uuid: string, handle: VmHandle, alert: VmAlert): void {
    if (this.handles.get(uuid) !== handle) return;
    const cur = this.ctx.store.instances.get({ uuid });
    if (!cur) return;
    if (alert.kind === "stalled" && (cur.state === "running" || cur.state === "starting")) {
      this.ctx.log.warn({ instance: uuid, reason: alert.reason }, "vm stalled");
      this.setState(uuid, { state: "error", error: alert.reason });
    } else if (alert.kind === "resumed" && cur.state === "error") {
      this.setState(uuid, { state: "running", error: null });
    }
  }

  /**
   * A VM that should have been ended but could not be: it may run on, so it is kept (a stop or a
   * delete ends it through its handle, and its exit is recorded) and the instance is `error` with
   * `why`, never `stopped` (a stopped instance's files may be removed, a second QEMU started).
   */
  private keepUnended(uuid: string, handle: VmHandle, why: string): void {
    this.adopt(uuid, handle, false);
    this.setState(uuid, { state: "error", pid: handle.pid, error: why });
  }

  /** Stop tracking the VM of `uuid`: its coming exit is intended (suspend) and changes no state. */
  forget(uuid: string): void {
    this.handles.delete(uuid);
  }

  /** Stop the VM of an instance: graceful power-off within `timeoutMs`, then forced. Resolves once it is gone. */
  async stop(inst: InstanceRecord, opts: { force: boolean; timeoutMs: number; reason: string }): Promise<void> {
    const handle = this.handles.get(inst.uuid);
    if (!handle) {
      this.setState(inst.uuid, { state: "stopped", pid: null, stoppedAt: now(), stopReason: opts.reason });
      return;
    }
    this.setState(inst.uuid, { state: "stopping", stopReason: opts.reason });
    // Killed here, the restart finds the VM alive and `stopping` and ends it; a failure leaves it running.
    await failpoint("stop.before-kill").catch((err: Error) => {
      if (this.handles.get(inst.uuid) === handle) this.setState(inst.uuid, { state: "running", stopReason: null });
      throw new ApiError("HOST_FAILURE", `Cannot stop instance '${inst.name}': ${err.message}`);
    });
    // A power-off that cannot be asked for (QEMU's monitor gone, the host's agent unreachable) is
    // not waited out: the kill below is tried at once.
    if (!opts.force && (await handle.powerdown().then(() => true, () => false))) {
      const graceful = await Promise.race([handle.exited.then(() => true), sleep(opts.timeoutMs).then(() => false)]);
      if (graceful) return void (await handle.exited);
      this.setState(inst.uuid, { stopReason: `${opts.reason}; forced after ${Math.round(opts.timeoutMs / 1000)}s without power-off` });
    }
    await handle.kill().catch((err: unknown) => {
      // Not ended (its host could not be reached): it runs on as it was, and says so.
      if (this.handles.get(inst.uuid) === handle) this.setState(inst.uuid, { state: inst.state, stopReason: null });
      throw err;
    });
    await handle.exited;
  }

  /** After a restart: reattach to VMs that survived, and record the ones that did not. */
  async reconcile(suspending: ReadonlySet<string> = new Set()): Promise<void> {
    // Checkpoints being captured have no VM of their own (core/checkpoints.ts recovers them).
    // The VMs of a host no agent of this control plane runs are out of reach: not finding them
    // says nothing about them.
    const live = this.ctx.store.instances.live().filter((i) => drivenHere(this.ctx, i));
    for (const inst of live) {
      let handle: VmHandle | null;
      try {
        handle = await on(this.ctx, inst.host).vm.attach(inst.uuid, this.runDirOf(inst.uuid));
      } catch (err) {
        // Its QEMU is alive but does not answer: never treat it as gone (its files are in use).
        this.unreachable(inst, err as Error);
        continue;
      }
      if (inst.branch && inst.branch.phase !== "Succeeded" && inst.branch.phase !== "Failed") {
        const ended = !handle || await handle.kill().then(
          () => true,
          (err: Error) => {
            this.ctx.log.error({ instance: inst.uuid, err: err.message }, "could not end the vm of an interrupted branch");
            return false;
          },
        );
        this.setState(inst.uuid, {
          state: "error", pid: null, error: "branch interrupted by a restart of vmbranch",
          branch: { ...inst.branch, phase: "Failed", message: "interrupted by a restart of vmbranch" },
        });
        if (!ended) this.keepUnended(inst.uuid, handle!, "its branch was interrupted by a restart of vmbranch and its VM could not be ended");
        continue;
      }
      // A suspend that died before its VM ended: the VM runs on (recovery.ts discards the snapshot).
      if (handle && suspending.has(inst.uuid)) inst.state = "running";
      if (handle) await this.reattached(inst, handle);
      else {
        this.setState(inst.uuid, {
          state: "stopped", pid: null, stoppedAt: now(),
          stopReason: "the VM process was gone when vmbranch restarted",
        });
      }
    }
  }

  /** Adopt a VM found again after a restart, asking QEMU how it runs: a pause of ours that a crash interrupted is ended. */
  private async reattached(inst: InstanceRecord, handle: VmHandle): Promise<void> {
    if (this.ctx.store.instances.get({ uuid: inst.uuid })?.state !== inst.state) this.setState(inst.uuid, { state: inst.state });
    this.adopt(inst.uuid, handle, inst.state === "starting");
    this.ctx.log.info({ instance: inst.uuid, pid: handle.pid }, "reattached to running vm");
    if (inst.state === "stopping") {
      void this.stop(inst, { force: true, timeoutMs: 0, reason: inst.stopReason ?? "stopped by request" }).catch((err: Error) =>
        this.ctx.log.error({ instance: inst.uuid, err: err.message }, "could not end a vm whose stop a restart interrupted"),
      );
      return;
    }
    const state = await handle.runState().catch((err: Error) => `unknown (${err.message})`);
    if (state === "io-error" || state === "guest-panicked" || state === "internal-error") {
      const reason = state === "io-error" ? "disk full or disk I/O error: the VM is paused until space is freed and it is started again" : `the VM stopped: ${state}`;
      this.setState(inst.uuid, { state: "error", error: reason });
    } else if (state !== "running") {
      // Only vmbranch pauses its VMs (snapshots, suspend): a VM paused now was paused by a serve that died.
      this.ctx.log.warn({ instance: inst.uuid, runState: state }, "resuming a vm left paused by an interrupted operation");
      await handle.resume().catch((err: Error) => {
        this.ctx.log.error({ instance: inst.uuid, err: err.message }, "could not resume a vm left paused");
        this.setState(inst.uuid, { state: "error", error: `left paused (${state}) by an interrupted operation and could not be resumed: ${err.message}` });
      });
    }
  }

  /**
   * Instances whose live QEMU did not answer at reattach, with the timer of their next try. An
   * instance stays here while a try is under way too (the timer is then null): until that try has
   * a handle or found the process gone, nothing may act on the instance (it has no handle, so a
   * delete would remove files QEMU still writes and a start would launch a second QEMU).
   */
  private readonly unanswered = new Map<string, NodeJS.Timeout | null>();
  /** Set once every VM was let go (shutdown): a try still under way then lets its VM go too. */
  private detached = false;

  /** True while the VM of `uuid` is alive but could not be reattached: its files must not be touched. */
  isUnreachable(uuid: string): boolean {
    return this.unanswered.has(uuid);
  }

  private unreachable(inst: InstanceRecord, err: Error): void {
    this.ctx.log.error({ instance: inst.uuid, err: err.message }, "vm alive but not reachable; retrying");
    this.retryAttachLater(inst.uuid, REATTACH_RETRY_MS);
    this.setState(inst.uuid, { state: "error", error: `its VM process runs but did not answer when vmbranch restarted (${err.message}); retrying` });
  }

  /** Try to reattach the VM of `uuid` again in `ms`; until then it stays unanswered. */
  private retryAttachLater(uuid: string, ms: number): void {
    const timer = setTimeout(() => {
      this.unanswered.set(uuid, null);
      void this.retryAttach(uuid);
    }, ms);
    timer.unref();
    this.unanswered.set(uuid, timer);
  }

  private async retryAttach(uuid: string): Promise<void> {
    let handle: VmHandle | null = null;
    try {
      try {
        handle = await on(this.ctx, this.ctx.store.instances.get({ uuid })?.host).vm.attach(uuid, this.runDirOf(uuid));
      } catch (err) {
        const inst = this.ctx.store.instances.get({ uuid });
        if (this.detached || !inst) return void this.unanswered.delete(uuid);
        return this.unreachable(inst, err as Error);
      }
      const inst = this.ctx.store.instances.get({ uuid });
      if (this.detached || !inst) {
        // Shutting down (or nothing to adopt it into): the VM runs on without us, as at any exit.
        this.unanswered.delete(uuid);
        handle?.detach();
        return;
      }
      // Leaving `unanswered` and gaining a handle (or the stopped state) happen in the same tick:
      // a request sees the one or the other, never neither.
      this.unanswered.delete(uuid);
      if (!handle) {
        this.setState(uuid, { state: "stopped", pid: null, stoppedAt: now(), error: null, stopReason: "the VM process ended while vmbranch could not reach it" });
        return;
      }
      this.setState(uuid, { state: "running", error: null });
      await this.reattached({ ...inst, state: "running" }, handle);
    } catch (err) {
      // The state database was down under the try: let the VM go again, still unanswered, and try
      // once it is back (a request meanwhile is refused as for any unanswered VM).
      if (this.handles.get(uuid) === handle) this.handles.delete(uuid);
      handle?.detach();
      if (this.detached) return void this.unanswered.delete(uuid);
      if (!(err instanceof StoreUnavailable)) this.ctx.log.error({ instance: uuid, err: (err as Error).message }, "reattaching failed; retrying");
      if (!this.unanswered.get(uuid)) this.retryAttachLater(uuid, err instanceof StoreUnavailable ? STORE_RETRY_MS : REATTACH_RETRY_MS);
    }
  }

  /** Let go of every VM without stopping it (the service is shutting down; VMs outlive it). */
  detachAll(): void {
    this.detached = true;
    for (const timer of this.unanswered.values()) if (timer) clearTimeout(timer);
    this.unanswered.clear();
    for (const [uuid, handle] of this.handles) {
      this.handles.delete(uuid);
      handle.detach();
    }
  }

  /** A failed launch as the client sees it. */
  private launchError(name: string, err: unknown): ApiError {
    return hostError(err, `Cannot start instance '${name}'`, this.ctx.log);
  }

  /** Forget the runtime files of a VM on host `host` (after it is gone). */
  async cleanup(uuid: string, host: string | null | undefined): Promise<void> {
    await on(this.ctx, host).vm.removeRunDir(this.runDirOf(uuid));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

