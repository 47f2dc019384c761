/**
 * The operation journal (docs/architecture.md, "The operation journal"): a row in the store for
 * each multi-step operation in flight, written before its first step that cannot simply be undone
 * (a disk switch under a running VM, a suspend's save) and deleted in the same transaction as its
 * last record. A row still open at start-up means serve died inside the operation; recovery.ts
 * rolls it forward or back from what the row says and what QEMU reports.
 */
import type { OperationIntent, OperationRecord } from "../store/records";
import { whileUnavailable } from "./background";
import type { CoreContext } from "./context";
import { newUuid, now } from "./identity";

/** Open and close journal entries. */
export class Journal {
  constructor(private readonly ctx: CoreContext) {}

  /** Record that `intent` starts; returns the entry's id. */
  open(intent: OperationIntent): string {
    const id = newUuid();
    const subject = intent.kind === "resize" ? intent.volumeUuid : intent.instanceUuid;
    this.ctx.store.operations.insert({ id, kind: intent.kind, subject, intent, startedAt: now(), epoch: this.ctx.store.epoch });
    return id;
  }

  /** The operation ended (done or fully undone). Call inside the transaction of its last record. */
  close(id: string): void {
    this.ctx.store.operations.delete({ id });
  }

  /**
   * Record the last step of `id` (`record`, which already happened on the host, e.g. a disk switch
   * under a running VM) and close the entry in one transaction, waiting out a state database that
   * is down: what the host did must be written down now, not at the next start. A commit whose
   * answer was lost left the entry closed, so the retry finds it gone and writes nothing twice.
   */
  async finish(id: string, what: string, record: () => void): Promise<void> {
    await whileUnavailable(this.ctx.log, what, () =>
      this.ctx.store.tx(() => {
        if (!this.ctx.store.operations.get({ id })) return;
        record();
        this.close(id);
      }),
    );
  }

  /** Entries left open by a serve that died, oldest first. */
  openEntries(): OperationRecord[] {
    return this.ctx.store.operations.open();
  }
}
