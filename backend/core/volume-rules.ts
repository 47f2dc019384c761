/**
 * The mount rules of volumes (docs/api.md, "attach"): any number of
 * read-only mounts may share a volume; a read-write mount is exclusive — no read-write mount
 * while any other mount exists, never two read-write mounts. Pure functions over attachments.
 */
import type { AttachmentRecord, VolumeRecord } from "../store/records";
import { ApiError } from "./errors";

/** Instance states in which a VM process exists (its volumes are mounted). */
export const LIVE_STATES = new Set(["starting", "running", "stopping"]);

/** Throw VOLUME_IN_USE when attaching `volume` to `instanceName` with `readonly` breaks the rules. */
export function checkAttachAllowed(
  volume: VolumeRecord,
  existing: readonly (AttachmentRecord & { instanceName: string })[],
  instanceUuid: string,
  readonly: boolean,
): void {
  if (volume.isTemplate)
    throw new ApiError("VOLUME_IS_TEMPLATE", `Volume '${volume.name}' is a template: clone it or create a volume from it to use its data`);
  if (volume.state !== "available")
    throw new ApiError("INVALID_STATE", `Cannot attach volume '${volume.name}' in state '${volume.state}'`);
  if (existing.some((a) => a.instanceUuid === instanceUuid))
    throw new ApiError("VOLUME_IN_USE", `Volume '${volume.name}' is already attached to this instance`);
  const rw = existing.find((a) => !a.readonly);
  if (rw)
    throw new ApiError(
      "VOLUME_IN_USE",
      `Volume '${volume.name}' is attached read-write to instance '${rw.instanceName}': a read-write mount is exclusive`,
    );
  if (!readonly && existing.length > 0)
    throw new ApiError(
      "VOLUME_IN_USE",
      `Cannot attach volume '${volume.name}' read-write: it is attached to ${existing.map((a) => `'${a.instanceName}'`).join(", ")}, and a read-write mount is exclusive`,
    );
}

/** Throw when an instance already has a volume mounted at `at` (or above/below it). */
export function checkMountPointFree(instanceName: string, mounts: readonly { at: string }[], at: string): void {
  for (const m of mounts) {
    if (m.at === at || at.startsWith(m.at + "/") || m.at.startsWith(at + "/"))
      throw new ApiError("VALIDATION_FAILED", `Instance '${instanceName}' already has a volume at '${m.at}', which overlaps '${at}'`, "at");
  }
}
