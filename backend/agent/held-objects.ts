/**
 * What an agent holds between calls: the VMs its control plane launched or attached (with what
 * they reported since, for the control plane to read by long poll), the live snapshots whose RAM
 * copy is still running, and the leftovers of the last listing (removed by id). In memory only:
 * an agent that restarts holds nothing, and its control plane attaches the VMs again.
 */
import { randomUUID } from "node:crypto";
import type { ViewLeftover } from "../host/storage-driver";
import type { LiveSnapshot, VmAlert, VmExit, VmHandle, VmLeftover } from "../host/vm-driver";
import { AgentErrors, errorToWire, type WireError } from "./wire";

/** Something a VM reported, numbered in the order it happened. */
export type VmEvent = { seq: number } & ({ kind: "alert"; alert: VmAlert } | { kind: "exit"; exit: VmExit });

/** How long an ended VM's record stays for its control plane to read how it ended. */
const ENDED_KEPT_MS = 10 * 60_000;

/** How long a finished snapshot's outcome stays for its control plane to read. */
const SNAPSHOT_KEPT_MS = 10 * 60_000;

interface HeldVm {
  handle: VmHandle;
  events: VmEvent[];
  exit: VmExit | null;
  waiters: Set<() => void>;
}

interface HeldSnapshot {
  live: LiveSnapshot;
  outcome: { ok: true } | { ok: false; error: WireError } | null;
  waiters: Set<() => void>;
}

/** An unknown id: the agent restarted, or the object ended and was forgotten. */
export function unknownObject(what: string): Error {
  return Object.assign(new Error(`${what} is not held by this agent`), { name: AgentErrors.unknownObject });
}

/** Resolves when `notify` is called or after `ms`, whichever comes first. */
function waitFor(waiters: Set<() => void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      waiters.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    waiters.add(done);
  });
}

function wake(waiters: Set<() => void>): void {
  for (const w of [...waiters]) w();
}

/** The agent's objects. */
export class HeldObjects {
  private readonly vms = new Map<string, HeldVm>();
  private readonly snapshots = new Map<string, HeldSnapshot>();
  private readonly vmLeftovers = new Map<string, VmLeftover>();
  private readonly viewLeftovers = new Map<string, ViewLeftover>();
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Hold `handle` and record what it reports. */
  holdVm(handle: VmHandle): void {
    const held: HeldVm = { handle, events: [], exit: null, waiters: new Set() };
    this.vms.set(handle.uuid, held);
    let seq = 0;
    handle.onAlert((alert) => {
      held.events.push({ seq: ++seq, kind: "alert", alert });
      wake(held.waiters);
    });
    void handle.exited.then((exit) => {
      held.exit = exit;
      held.events.push({ seq: ++seq, kind: "exit", exit });
      wake(held.waiters);
      this.later(ENDED_KEPT_MS, () => {
        if (this.vms.get(handle.uuid) === held) this.vms.delete(handle.uuid);
      });
    });
  }

  /** The live VM `uuid` when held and not ended; undefined when not held; null when it ended. */
  heldVm(uuid: string): VmHandle | null | undefined {
    const held = this.vms.get(uuid);
    if (!held) return undefined;
    return held.exit ? null : held.handle;
  }

  /** Forget an ended VM (its control plane found it ended). */
  forgetVm(uuid: string): void {
    this.vms.delete(uuid);
  }

  /** The held VM `uuid`, ended or not. */
  vm(uuid: string): VmHandle {
    const held = this.vms.get(uuid);
    if (!held) throw unknownObject(`VM ${uuid}`);
    return held.handle;
  }

  /**
   * What VM `uuid` (process `pid`) reported after `after`, waiting up to `waitMs` for something new.
   * When the instance was launched again meanwhile (same uuid, another process), the one asked
   * about has ended, and that is the answer.
   */
  async events(uuid: string, pid: number, after: number, waitMs: number): Promise<VmEvent[]> {
    const held = this.vms.get(uuid);
    if (!held) throw unknownObject(`VM ${uuid}`);
    if (held.handle.pid !== pid) return [{ seq: Number.MAX_SAFE_INTEGER, kind: "exit", exit: { exitCode: null, reason: "the VM ended (its instance was started again)" } }];
    const newer = () => held.events.filter((e) => e.seq > after);
    if (newer().length === 0 && !held.exit) await waitFor(held.waiters, waitMs);
    return newer();
  }

  /** Hold a live snapshot until its RAM copy ends and a while after; its id. */
  holdSnapshot(live: LiveSnapshot): string {
    const id = randomUUID();
    const held: HeldSnapshot = { live, outcome: null, waiters: new Set() };
    this.snapshots.set(id, held);
    const settle = (outcome: HeldSnapshot["outcome"]) => {
      held.outcome = outcome;
      wake(held.waiters);
      this.later(SNAPSHOT_KEPT_MS, () => this.snapshots.delete(id));
    };
    live.completed.then(
      () => settle({ ok: true }),
      (err: unknown) => settle({ ok: false, error: errorToWire(err) }),
    );
    return id;
  }

  /** Whether snapshot `id`'s copy ended (waiting up to `waitMs`): true, false (still copying), or its error thrown. */
  async snapshotDone(id: string, waitMs: number): Promise<{ done: boolean; error?: WireError }> {
    const held = this.snapshot(id);
    if (!held.outcome) await waitFor(held.waiters, waitMs);
    if (!held.outcome) return { done: false };
    return held.outcome.ok ? { done: true } : { done: true, error: held.outcome.error };
  }

  /** The live snapshot `id`. */
  liveSnapshot(id: string): LiveSnapshot {
    return this.snapshot(id).live;
  }

  private snapshot(id: string): HeldSnapshot {
    const held = this.snapshots.get(id);
    if (!held) throw unknownObject(`snapshot ${id}`);
    return held;
  }

  /** Keep the leftovers of a listing under new ids (replacing the previous listing's). */
  holdVmLeftovers(list: VmLeftover[]): string[] {
    return HeldObjects.relist(this.vmLeftovers, list);
  }

  holdViewLeftovers(list: ViewLeftover[]): string[] {
    return HeldObjects.relist(this.viewLeftovers, list);
  }

  private static relist<T>(map: Map<string, T>, list: T[]): string[] {
    map.clear();
    return list.map((l) => {
      const id = randomUUID();
      map.set(id, l);
      return id;
    });
  }

  /** Remove leftover `id` of the last listing. */
  async removeLeftover(kind: "vm-leftover" | "view-leftover", id: string): Promise<void> {
    const map = kind === "vm-leftover" ? this.vmLeftovers : this.viewLeftovers;
    const l = map.get(id);
    if (!l) throw unknownObject(`leftover ${id}`);
    await l.remove();
    map.delete(id);
  }

  /** Stop watching every VM (they keep running) and drop every timer: the agent is stopping. */
  close(): void {
    for (const held of this.vms.values()) if (!held.exit) held.handle.detach();
    for (const held of this.vms.values()) wake(held.waiters);
    for (const held of this.snapshots.values()) wake(held.waiters);
    this.vms.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }
}
