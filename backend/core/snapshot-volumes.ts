/**
 * The volumes of an instance started from a snapshot's disks (a branch, an instance loaded from a
 * checkpoint): each read-write block volume becomes a copy-on-write clone over its frozen layer,
 * inline to the new instance; read-only volumes are shared, as the source mounted them. Device
 * positions are the snapshot's, so a restore from memory finds its devices where they were.
 */
import type { InstanceRecord } from "../store/records";
import type { CoreContext } from "./context";
import { ApiError } from "./errors";
import { newUuid } from "./identity";
import type { Reverter } from "./reverter";
import type { Volumes } from "./volumes";

/** One disk of a snapshot, with where the source mounted it. */
export interface SnapshotDisk {
  volumeUuid: string;
  diskId: string;
  at: string;
  readonly: boolean;
  position: number;
}

/** Give `inst` the volumes of `disks`; undo steps go on `rev`. Caller holds the instance's lock. */
export async function attachSnapshotDisks(ctx: CoreContext, volumes: Volumes, rev: Reverter, inst: InstanceRecord, disks: readonly SnapshotDisk[]): Promise<void> {
  for (const d of disks) {
    const src = ctx.store.volumes.get({ uuid: d.volumeUuid });
    if (d.readonly) {
      if (!src)
        throw new ApiError("INVALID_STATE", `Cannot mount the read-only volume the source had at '${d.at}': volume ${d.volumeUuid} was deleted since`);
      volumes.attachRecordUnchecked(d.volumeUuid, inst.uuid, d.at, true, d.position);
      continue;
    }
    const vol = await volumes.cloneRecord(rev, {
      sourceUuid: d.volumeUuid, sourceName: src?.name ?? d.volumeUuid, frozenDisk: d.diskId, sizeMb: src?.sizeMb ?? ctx.store.disks.get({ id: d.diskId })?.sizeMb ?? null,
      filesystem: src?.filesystem ?? "ext4", name: `${inst.name}-${(src?.name ?? "vol").slice(0, 20)}-${newUuid().slice(0, 5)}`.slice(0, 63),
      owner: inst.uuid, templateUuid: null,
    });
    volumes.attachRecordUnchecked(vol.uuid, inst.uuid, d.at, false, d.position);
  }
}
