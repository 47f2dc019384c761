/**
 * `VmDriver` of a host run by an agent: every call goes to the agent (agent-client.ts); a VM is
 * a `RemoteVmHandle` whose `exited` and alerts come from a long poll of what the agent saw. When
 * the agent restarts (it then holds nothing), the handle attaches its VM again and goes on; a VM
 * that ended meanwhile is reported ended.
 */
import { restoreRefusal } from "../host/qemu/machine-types";
import type {
  ConsoleSlice, DiskFreeze, GuestNetwork, HostCapacity, HostMemory, LiveSnapshot, QuiesceMode, SnapshotFiles, SnapshotMachine, VmAlert, VmDriver, VmExit,
  VmForward, VmHandle, VmLaunchSpec, VmLeftover, VmStats,
} from "../host/vm-driver";
import { LONG_POLL_MS, type AgentDescription, type HandleDescriptor } from "./agent-app";
import { AgentUnreachable, QUICK_CALL_MS, type AgentClient } from "./agent-client";
import type { VmEvent } from "./held-objects";
import { AgentErrors, errorFromWire, isAgentError, type WireError } from "./wire";

/** Pause between long polls that could not reach the agent. */
const RETRY_MS = 500;

/** A long poll with no answer this long after the agent's own wait is a lost connection: poll again. */
const POLL_TIMEOUT_MS = LONG_POLL_MS + 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The VM driver of an agent's host. */
export class RemoteVmDriver implements VmDriver {
  readonly network: GuestNetwork;
  readonly machine: SnapshotMachine;
  private readonly handles = new Set<RemoteVmHandle>();

  constructor(
    private readonly agent: AgentClient,
    private readonly host: AgentDescription,
  ) {
    this.network = host.network;
    this.machine = host.machine;
  }

  restoreRefusal(recorded: SnapshotMachine): string | null {
    return restoreRefusal(recorded, { type: this.machine.machineType, qemuVersion: this.machine.qemuVersion, available: this.host.availableMachines });
  }

  readConsole(runDir: string, offset: number, limit: number): Promise<ConsoleSlice> {
    return this.agent.call("vm", "readConsole", [runDir, offset, limit]);
  }

  isPortFree(port: number, protocol: "tcp" | "udp"): Promise<boolean> {
    return this.agent.call("vm", "isPortFree", [port, protocol]);
  }

  pickFreePort(protocol: "tcp" | "udp", exclude: ReadonlySet<number>): Promise<number | null> {
    return this.agent.call("vm", "pickFreePort", [protocol, exclude]);
  }

  capacity(ramDir: string): Promise<HostCapacity> {
    return this.agent.call("vm", "capacity", [ramDir]);
  }

  memory(): Promise<HostMemory> {
    // The heartbeat: an agent that cannot answer this quickly is as good as unreachable.
    return this.agent.call("vm", "memory", [], QUICK_CALL_MS);
  }

  async launch(spec: VmLaunchSpec): Promise<VmHandle> {
    return this.track(await this.agent.call<HandleDescriptor>("vm", "launch", [spec]), spec.runDir);
  }

  async attach(uuid: string, runDir: string): Promise<VmHandle | null> {
    const d = await this.agent.call<HandleDescriptor | null>("vm", "attach", [uuid, runDir]);
    return d ? this.track(d, runDir) : null;
  }

  prepareRunDir(runDir: string): Promise<void> {
    return this.agent.call("vm", "prepareRunDir", [runDir]);
  }

  removeRunDir(runDir: string): Promise<void> {
    return this.agent.call("vm", "removeRunDir", [runDir]);
  }

  runDirNames(root: string): Promise<string[]> {
    return this.agent.call("vm", "runDirNames", [root]);
  }

  async leftovers(runDir: string, owned: ReadonlySet<string>): Promise<VmLeftover[]> {
    const list = await this.agent.call<{ id: string; kind: VmLeftover["kind"]; what: string; pid: number | null }[]>("vm", "leftovers", [runDir, owned]);
    return list.map(({ id, ...l }) => ({ ...l, remove: () => this.agent.call<void>("vm-leftover", "remove", [id]) }));
  }

  /** Stop every handle's long poll (the service is closing; the VMs keep running). */
  detachAll(): void {
    for (const h of this.handles) h.detach();
  }

  private track(d: HandleDescriptor, runDir: string): RemoteVmHandle {
    const h = new RemoteVmHandle(this.agent, d, runDir);
    this.handles.add(h);
    void h.exited.finally(() => this.handles.delete(h));
    h.onDetach(() => this.handles.delete(h));
    return h;
  }
}

/** A VM on an agent's host. */
export class RemoteVmHandle implements VmHandle {
  readonly uuid: string;
  readonly pid: number;
  readonly vmgenid: string;
  readonly machineType: string;
  readonly guestAgent: boolean;
  readonly exited: Promise<VmExit>;
  private ended!: (exit: VmExit) => void;
  private readonly alertListeners: ((alert: VmAlert) => void)[] = [];
  private readonly detachListeners: (() => void)[] = [];
  private detached = false;
  private done = false;

  constructor(
    private readonly agent: AgentClient,
    d: HandleDescriptor,
    private readonly runDir: string,
  ) {
    ({ uuid: this.uuid, pid: this.pid, vmgenid: this.vmgenid, machineType: this.machineType, guestAgent: this.guestAgent } = d);
    this.exited = new Promise((resolve) => (this.ended = resolve));
    void this.poll();
  }

  /** Follow what the agent saw of this VM until it ends or the handle is detached. */
  private async poll(): Promise<void> {
    let after = 0;
    while (!this.detached && !this.done) {
      let events: VmEvent[];
      try {
        events = await this.agent.call<VmEvent[]>("handle", "events", [this.uuid, this.pid, after], POLL_TIMEOUT_MS);
      } catch (err) {
        if (this.detached) return;
        if (isAgentError(err, AgentErrors.unknownObject)) {
          // The agent restarted: hold the VM there again, or learn that it ended meanwhile.
          const again = await this.agent.call<HandleDescriptor | null>("vm", "attach", [this.uuid, this.runDir]).catch(() => undefined);
          if (again === null) this.finish({ exitCode: null, reason: "the VM ended while its host's agent was restarting" });
          after = 0;
        }
        if (!(err instanceof AgentUnreachable) && !isAgentError(err, AgentErrors.unknownObject) && !isAgentError(err, AgentErrors.staleEpoch)) {
          process.stderr.write(`vmbranch: watching VM ${this.uuid} on its agent: ${(err as Error).message}\n`);
        }
        // A newer term's serve watches it now; this one stops following.
        if (isAgentError(err, AgentErrors.staleEpoch)) return;
        await sleep(RETRY_MS);
        continue;
      }
      for (const e of events) {
        after = Math.max(after, e.seq);
        if (e.kind === "alert") for (const l of this.alertListeners) l(e.alert);
        else this.finish(e.exit);
      }
    }
  }

  private finish(exit: VmExit): void {
    if (this.done) return;
    this.done = true;
    this.ended(exit);
  }

  /** Call a method of this VM on the agent, attaching it again once if the agent restarted. */
  private async call<T>(method: string, args: unknown[] = []): Promise<T> {
    try {
      return await this.agent.call<T>("handle", method, [this.uuid, ...args]);
    } catch (err) {
      if (!isAgentError(err, AgentErrors.unknownObject)) throw err;
      const again = await this.agent.call<HandleDescriptor | null>("vm", "attach", [this.uuid, this.runDir]);
      if (!again) throw new Error(`VM ${this.uuid} is no longer running on its host`);
      return this.agent.call<T>("handle", method, [this.uuid, ...args]);
    }
  }

  ready(timeoutMs: number): Promise<{ bootTimeMs: number }> {
    return this.call("ready", [timeoutMs]);
  }

  powerdown(): Promise<void> {
    return this.call("powerdown");
  }

  async kill(): Promise<void> {
    try {
      await this.call("kill");
    } catch (err) {
      // Gone before the kill reached it: what kill promises holds.
      if (!(err instanceof Error && /no longer running/.test(err.message))) throw err;
      this.finish({ exitCode: null, reason: "killed" });
    }
    // Kill resolves once the process is gone; its exit is reported by the poll, which may lag.
    if (!this.detached) await this.exited;
  }

  detach(): void {
    this.detached = true;
    for (const l of this.detachListeners) l();
  }

  /** Call `listener` once the handle is detached. */
  onDetach(listener: () => void): void {
    this.detachListeners.push(listener);
  }

  addForward(f: VmForward): Promise<void> {
    return this.call("addForward", [f]);
  }

  removeForward(f: VmForward): Promise<void> {
    return this.call("removeForward", [f]);
  }

  async snapshot(disks: DiskFreeze[], files: SnapshotFiles, quiesce?: QuiesceMode): Promise<LiveSnapshot> {
    const s = await this.call<Omit<LiveSnapshot, "completed" | "copyEta"> & { id: string }>("snapshot", [disks, files, quiesce]);
    const { id, ...fixed } = s;
    return { ...fixed, completed: this.copyDone(id), copyEta: () => this.agent.call<number | null>("snapshot", "eta", [id]) };
  }

  /** Settles when snapshot `id`'s RAM copy on the agent ended, as it ended there. */
  private async copyDone(id: string): Promise<void> {
    for (;;) {
      let state: { done: boolean; error?: WireError };
      try {
        state = await this.agent.call("snapshot", "done", [id], POLL_TIMEOUT_MS);
      } catch (err) {
        if (!(err instanceof AgentUnreachable)) throw err;
        await sleep(RETRY_MS);
        continue;
      }
      if (state.error) throw errorFromWire(state.error);
      if (state.done) return;
    }
  }

  thawGuest(): Promise<boolean> {
    return this.call("thawGuest");
  }

  freezeDisks(disks: DiskFreeze[]): Promise<void> {
    return this.call("freezeDisks", [disks]);
  }

  flattenDisk(diskId: string): Promise<void> {
    return this.call("flattenDisk", [diskId]);
  }

  settleDisks(): Promise<void> {
    return this.call("settleDisks");
  }

  onAlert(listener: (alert: VmAlert) => void): void {
    this.alertListeners.push(listener);
  }

  resume(): Promise<void> {
    return this.call("resume");
  }

  discardOverlay(path: string): Promise<void> {
    return this.call("discardOverlay", [path]);
  }

  runState(): Promise<string> {
    return this.call("runState");
  }

  diskFiles(): Promise<{ diskId: string; path: string }[]> {
    return this.call("diskFiles");
  }

  saveAndQuit(files: SnapshotFiles): Promise<void> {
    return this.call("saveAndQuit", [files]);
  }

  stats(hostPorts: readonly number[]): Promise<VmStats> {
    return this.call("stats", [hostPorts]);
  }
}
