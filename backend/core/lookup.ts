/**
 * Find resources by UUID or name (any resource is addressed by either: docs/api.md, "Addressing by
 * UUID or name") and turn a miss into the registry's 404. Also the tag filter of list endpoints.
 */
import { looksLikeUuid, type Ref } from "vmbranch/sdk";
import type { InstanceRecord, VolumeRecord } from "../store/records";
import type { Store } from "../store/store";
import { ApiError } from "./errors";

/** The instance or instance template named by `id`, or null. */
export function findAnyInstance(store: Store, id: string): InstanceRecord | null {
  return looksLikeUuid(id) ? store.instances.get({ uuid: id.toLowerCase() }) : store.instances.named(id);
}

/** True for records that are instances proper: neither templates nor checkpoints. */
export function isPlainInstance(rec: InstanceRecord): boolean {
  return !rec.isTemplate && !rec.checkpoint;
}

/** The instance (not template, not checkpoint) named by `id`, or null. */
export function findInstance(store: Store, id: string): InstanceRecord | null {
  const rec = findAnyInstance(store, id);
  return rec && isPlainInstance(rec) ? rec : null;
}

/** The instance named by `id`; 404 when missing. */
export function requireInstance(store: Store, id: string): InstanceRecord {
  const rec = findInstance(store, id);
  if (!rec) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${id}' not found`);
  return rec;
}

/** The instance template named by `id`; 404 when missing. */
export function requireInstanceTemplate(store: Store, id: string): InstanceRecord {
  const rec = findAnyInstance(store, id);
  if (!rec?.isTemplate) throw new ApiError("TEMPLATE_NOT_FOUND", `Instance template '${id}' not found`);
  return rec;
}

/** The checkpoint named by `id`; 404 when missing. */
export function requireCheckpoint(store: Store, id: string): InstanceRecord {
  const rec = findAnyInstance(store, id);
  if (!rec || !rec.checkpoint) throw new ApiError("CHECKPOINT_NOT_FOUND", `Checkpoint '${id}' not found`);
  return rec;
}

/** The volume (any state, templates included) named by `id`, or null. */
export function findVolume(store: Store, id: string): VolumeRecord | null {
  return looksLikeUuid(id) ? store.volumes.get({ uuid: id.toLowerCase() }) : store.volumes.named(id);
}

/** The volume named by `id` that is not a template; 404 when missing. */
export function requireVolume(store: Store, id: string): VolumeRecord {
  const rec = findVolume(store, id);
  if (!rec || rec.isTemplate) throw new ApiError("VOLUME_NOT_FOUND", `Volume '${id}' not found`);
  return rec;
}

/** The volume template named by `id`; 404 when missing. */
export function requireVolumeTemplate(store: Store, id: string): VolumeRecord {
  const rec = findVolume(store, id);
  if (!rec?.isTemplate) throw new ApiError("VOLUME_TEMPLATE_NOT_FOUND", `Volume template '${id}' not found`);
  return rec;
}

/** The string form of a `{uuid}|{name}` reference. */
export function refId(ref: Ref): string {
  return (ref.uuid ?? ref.name)!;
}

/** True when `have` holds every tag of `want`. */
export function hasAllTags(have: readonly string[], want: readonly string[]): boolean {
  return want.every((t) => have.includes(t));
}

/** Apply a tags PATCH operation. */
export function patchTags(current: string[], op: "set" | "add" | "del", value: string[]): string[] {
  if (op === "set") return [...new Set(value)];
  if (op === "add") return [...new Set([...current, ...value])];
  return current.filter((t) => !value.includes(t));
}
