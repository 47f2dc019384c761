/**
 * What the service's metrics are made of, decided here and formatted elsewhere (backend/api's
 * Prometheus exposition): how many instances and volumes are in each state, the bytes of RAM
 * images in the RAM directory, and outcomes as they happen — a branch running (its source's
 * pause, the live snapshot's duration, request → running), a volume clone ready, a live
 * checkpoint captured — read from the records when the state events announce them.
 */
import type { InstanceState, VolumeState } from "vmbranch/sdk";
import type { CoreContext } from "./context";
import { loadedVolumeRelations, volumeView } from "./views";

/** One thing that finished, with its durations in milliseconds. */
export type Outcome =
  | { kind: "branch"; fromMemory: boolean; sourcePauseMs: number | null; snapshotMs: number | null; requestToRunningMs: number | null }
  | { kind: "clone"; ms: number }
  | { kind: "checkpoint"; ms: number };

/** Counts and outcomes of one service. */
export class ServiceFigures {
  constructor(private readonly ctx: CoreContext) {}

  /** Instances (neither templates nor checkpoints) by state. */
  instancesByState(): Map<InstanceState, number> {
    return countBy(this.ctx.store.instances.plain().map((r) => r.state as InstanceState));
  }

  /** Volumes by the state the API shows (`mounted` while a VM uses one; templates are `template`). */
  volumesByState(): Map<VolumeState, number> {
    const rel = loadedVolumeRelations(this.ctx.store);
    return countBy(this.ctx.store.volumes.all().map((r) => volumeView(this.ctx.store, r, rel).state));
  }

  /** RAM images of memory snapshots: files and allocated bytes in the RAM directory, over every host this serve drives that answers. */
  async ramImages(): Promise<{ files: number; bytes: number }> {
    // A host that cannot be read now (its agent away) counts nothing rather than fail the figures.
    const each = await Promise.allSettled([...this.ctx.hosts.values()].map((h) => h.storage.usage(this.ctx.config.ramDir)));
    return each.reduce((sum, r) => (r.status === "fulfilled" ? { files: sum.files + r.value.files, bytes: sum.bytes + r.value.bytes } : sum), { files: 0, bytes: 0 });
  }

  /**
   * Calls `listener` once per outcome that completes from now on; returns the unsubscribe.
   * Outcomes of records made before the call (a restart reattaching to old branches) are not reported.
   */
  onOutcome(listener: (o: Outcome) => void): () => void {
    const since = Date.now();
    const reported = new Set<string>();
    const once = (uuid: string, o: Outcome) => {
      if (reported.has(uuid)) return;
      reported.add(uuid);
      listener(o);
    };
    return this.ctx.events.onAny((kind, uuid, state) => {
      if (state === "deleted") {
        reported.delete(uuid);
        return;
      }
      if (kind === "volume") {
        const v = this.ctx.store.volumes.get({ uuid });
        if (state !== "available" || !v?.clone?.finishedAt || Date.parse(v.clone.startedAt) < since) return;
        once(uuid, { kind: "clone", ms: Date.parse(v.clone.finishedAt) - Date.parse(v.clone.startedAt) });
        return;
      }
      const rec = this.ctx.store.instances.get({ uuid });
      if (!rec || Date.parse(rec.createdAt) < since) return;
      if (rec.branch?.phase === "Succeeded" && (state === "running" || state === "stopped")) {
        once(uuid, {
          kind: "branch",
          fromMemory: rec.branch.fromMemory,
          // Only a live snapshot pauses the source (a stopped or standby source has nothing to pause).
          sourcePauseMs: rec.branch.snapshotMs !== null ? rec.branch.sourcePauseMs : null,
          snapshotMs: rec.branch.snapshotMs,
          // A branch made without autostart is ready when stopped; only a running one measures request → running.
          requestToRunningMs: state === "running" ? Date.now() - Date.parse(rec.createdAt) : null,
        });
      } else if (rec.checkpoint?.readyAt && rec.checkpoint.hasMemory && state === "checkpoint") {
        once(uuid, { kind: "checkpoint", ms: Date.parse(rec.checkpoint.readyAt) - Date.parse(rec.createdAt) });
      }
    });
  }
}

function countBy<K>(keys: K[]): Map<K, number> {
  const m = new Map<K, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}
