/**
 * Histories: the state transitions of an instance (recorded by the store on every change, so they
 * survive restarts and no code path can skip them) told with their reasons, and the checkpoint
 * lineage of instances and checkpoints (Unikraft Cloud's checkpoint history: the checkpoints taken
 * from an instance plus those inherited from the checkpoint it was loaded from, newest first).
 * Reads only; checkpoints.ts records lineages when it creates and loads checkpoints.
 */
import type { CheckpointHistoryEntry, InstanceHistory, StateTransition } from "vmbranch/sdk";
import type { InstanceRecord, TransitionRecord } from "../store/records";
import type { Store } from "../store/store";

/** Why a transition happened, in words, from what the store captured with it. */
export function transitionReason(t: TransitionRecord): string {
  if (t.fromState === null) return "created";
  switch (t.toState) {
    case "starting":
      return t.fromState === "standby" ? "resuming from its memory snapshot" : "starting";
    case "running":
      if (t.fromState !== "starting") return "running";
      return t.bootTimeMs !== null && t.bootTimeMs > 0 ? `the guest is ready (booted in ${Math.round(t.bootTimeMs)} ms)` : "running from a memory snapshot";
    case "stopping":
      return t.stopReason ?? "stopping";
    case "stopped": {
      const why = t.stopReason ?? t.error ?? "stopped";
      return t.exitCode !== null ? `${why} (exit code ${t.exitCode})` : why;
    }
    case "standby":
      return t.stopReason ?? "suspended with its memory";
    case "error":
      return t.error ?? t.stopReason ?? "failed";
    case "template":
      return "converted into an instance template";
    case "checkpoint":
      return "checkpoint capture complete";
    default:
      return t.toState;
  }
}

/** History reads over the store. */
export class History {
  constructor(private readonly store: Store) {}

  /** State transitions of `rec`, oldest first. */
  transitions(rec: InstanceRecord): StateTransition[] {
    return this.store.transitionsOf(rec.uuid).map((t) => ({ at: t.at, from: t.fromState, to: t.toState, reason: transitionReason(t) }));
  }

  /** The checkpoint lineage of an instance or checkpoint, newest first; deleted checkpoints drop out. */
  checkpoints(rec: InstanceRecord): CheckpointHistoryEntry[] {
    const uuids = new Set<string>(rec.lineage ?? []);
    if (rec.checkpoint) uuids.add(rec.uuid);
    else for (const c of this.store.checkpointsOf(rec.uuid)) uuids.add(c.uuid);
    return [...uuids]
      .map((uuid) => this.store.instances.get({ uuid }))
      .filter((c): c is InstanceRecord => c !== null && Boolean(c.checkpoint))
      .sort((a, b) => (a.createdAt === b.createdAt ? b.name.localeCompare(a.name) : b.createdAt.localeCompare(a.createdAt)))
      .map((c) => ({ uuid: c.uuid, name: c.name, created_at: c.createdAt }));
  }

  /** The lineage a new checkpoint of `source` inherits: everything in the source's history (uuids, newest first). */
  lineageFor(source: InstanceRecord): string[] {
    return this.checkpoints(source).map((e) => e.uuid);
  }

  /** The history item of an instance: its checkpoint lineage and its transitions. */
  ofInstance(rec: InstanceRecord): InstanceHistory {
    return { uuid: rec.uuid, name: rec.name, history: this.checkpoints(rec), transitions: this.transitions(rec) };
  }

  /** The history item of a checkpoint: its lineage, itself first. */
  ofCheckpoint(rec: InstanceRecord): InstanceHistory {
    return { uuid: rec.uuid, name: rec.name, history: this.checkpoints(rec) };
  }
}
