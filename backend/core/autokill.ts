/**
 * Delete-on-idle of instance templates and checkpoints (Unikraft Cloud's autokill): one timer per
 * resource with a policy, due `autokillMs` after its last use (or its creation when never used),
 * re-armed whenever the policy or the last use changes and for every resource when the service
 * starts. A resource under a delete lock, or one that cannot be deleted yet (instances still use
 * its volumes), is kept and checked again one period later. Deciding and deleting is the caller's
 * `remove`; this module only keeps time.
 */
import { StoreUnavailable } from "../store/engine";
import type { InstanceRecord } from "../store/records";
import { STORE_RETRY_MS } from "./background";
import type { CoreContext } from "./context";

// setTimeout's longest delay; later deadlines are reached in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Timers of delete-on-idle policies. */
export class Autokill {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly ctx: CoreContext,
    /** Delete resource `uuid` if it is still idle; resolves false when it was kept (locked, in use). */
    private readonly remove: (uuid: string) => Promise<boolean>,
  ) {}

  /** When `rec` becomes due, or null when it has no policy. */
  static dueAt(rec: InstanceRecord): number | null {
    if (!rec.autokillMs || rec.autokillMs <= 0) return null;
    const since = rec.lastUsedAt ?? rec.checkpoint?.readyAt ?? rec.createdAt;
    return Date.parse(since) + rec.autokillMs;
  }

  /** (Re-)arm the timer of `uuid` from its current record; a record without a policy disarms it. */
  schedule(uuid: string): void {
    this.cancel(uuid);
    if (this.closed) return;
    const rec = this.ctx.store.instances.get({ uuid });
    const due = rec ? Autokill.dueAt(rec) : null;
    if (due === null) return;
    const timer = setTimeout(() => void this.fire(uuid), Math.min(Math.max(0, due - Date.now()), MAX_TIMER_MS));
    // Timers never keep the service (or a test) alive on their own.
    timer.unref();
    this.timers.set(uuid, timer);
  }

  /** Disarm the timer of `uuid` (it was deleted). */
  cancel(uuid: string): void {
    const t = this.timers.get(uuid);
    if (t) clearTimeout(t);
    this.timers.delete(uuid);
  }

  /** Arm every template and checkpoint that has a policy (service start). */
  armAll(): void {
    for (const rec of this.ctx.store.instances.withAutokill()) this.schedule(rec.uuid);
  }

  /** Stop every timer (service shutdown). */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private async fire(uuid: string): Promise<void> {
    this.timers.delete(uuid);
    if (this.closed) return;
    // Kept (locked, in use, a delete that failed): checked again one period later; the state
    // database being down: as soon as it is back (./background.ts).
    let again: number | undefined;
    try {
      const rec = this.ctx.store.instances.get({ uuid });
      const due = rec ? Autokill.dueAt(rec) : null;
      if (!rec || due === null) return;
      // Used again meanwhile, or a deadline beyond one timer's reach: wait on.
      if (due > Date.now()) return this.schedule(uuid);
      again = rec.autokillMs!;
      if (await this.remove(uuid)) {
        this.ctx.log.info({ instance: uuid, name: rec.name }, "autokill: deleted after its idle period");
        return;
      }
    } catch (err) {
      const unavailable = err instanceof StoreUnavailable;
      this.ctx.log.warn({ instance: uuid, err: (err as Error).message }, unavailable ? "autokill: the state database is unavailable; trying again until it is back" : "autokill: could not delete; will try again");
      if (unavailable || again === undefined) again = STORE_RETRY_MS;
    }
    if (this.closed) return;
    const retry = setTimeout(() => void this.fire(uuid), Math.min(again ?? STORE_RETRY_MS, MAX_TIMER_MS));
    retry.unref();
    this.timers.set(uuid, retry);
  }
}
