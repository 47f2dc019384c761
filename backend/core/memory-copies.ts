/**
 * Memory snapshot files lent to another host: a branch, template instance or checkpoint load
 * placed on another host than its snapshot restores from copies of the snapshot's RAM image and
 * device state there, at the same paths. A copy is sent once for every user at the time (instances
 * of one template started together share it) and removed when the last of them is done: a restored
 * VM maps its RAM image privately, so the copy is of no use once the VM runs. Copies are not
 * recorded: one a dead serve left is named by no row on its host, and the doctor removes it.
 */
import type { SnapshotRecord } from "../store/records";
import { requireCapacity } from "./capacity";
import { on, type CoreContext } from "./context";

interface Lent {
  users: number;
  /** Settles when the files are on the host (the bytes sent). */
  sent: Promise<number>;
}

/** Copies of memory snapshot files on hosts other than the snapshot's. */
export class MemoryCopies {
  private readonly lent = new Map<string, Lent>();

  constructor(private readonly ctx: CoreContext) {}

  /**
   * Run `fn` with `snap`'s memory files readable on `host`: as they are on the snapshot's own host
   * (or for a snapshot without memory), else sent there first and removed afterwards, whether `fn`
   * succeeded or not. `sent` hears the bytes this call waited for (0 when it needed none).
   */
  async on<T>(snap: SnapshotRecord, host: string, fn: () => Promise<T>, sent?: (bytes: number) => void): Promise<T> {
    if (!snap.hasMemory || host === (snap.host ?? this.ctx.config.hostName)) return fn();
    const key = `${snap.uuid}@${host}`;
    let entry = this.lent.get(key);
    if (!entry) {
      entry = { users: 0, sent: this.send(snap, host) };
      this.lent.set(key, entry);
    }
    entry.users++;
    try {
      // Awaited on its own line: `sent?.(await …)` would skip the wait when no `sent` is given.
      const bytes = await entry.sent;
      sent?.(bytes);
      return await fn();
    } finally {
      if (--entry.users === 0) {
        this.lent.delete(key);
        await this.remove(snap, host);
      }
    }
  }

  /** True while some copy is lent out: then a snapshot file on a host its row does not name is in use, not a leak (the doctor asks). */
  idle(): boolean {
    return this.lent.size === 0;
  }

  private async send(snap: SnapshotRecord, host: string): Promise<number> {
    // The RAM image lands in the target's RAM directory, which is host memory: refused with the
    // exact 507 before anything is written rather than a full tmpfs halfway through.
    const mb = snap.machine.memoryMb;
    await requireCapacity(this.ctx, host, { memoryMb: mb, ramDirMb: mb }, `receive the ${mb} MiB memory image of snapshot ${snap.uuid} from host '${snap.host}'`);
    const from = on(this.ctx, snap.host).storage;
    const to = on(this.ctx, host).storage;
    let bytes = 0;
    for (const path of [snap.ramPath!, snap.devstatePath!]) {
      const file = await from.openRead(path);
      bytes += await to.writeFile(path, file.stream, file.bytes);
    }
    return bytes;
  }

  private async remove(snap: SnapshotRecord, host: string): Promise<void> {
    const storage = on(this.ctx, host).storage;
    for (const path of [snap.ramPath!, snap.devstatePath!])
      await storage.remove(path).catch((err: Error) =>
        this.ctx.log.warn({ snapshot: snap.uuid, host, path, err: err.message }, "could not remove a snapshot file sent to another host; the doctor removes it"),
      );
  }
}
