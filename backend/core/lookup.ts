/**
 * Find resources by UUID or name (DESIGN.md §3: any resource is addressed by either) and turn a
 * miss into the registry's 404. Also the tag filter of list endpoints.
 */
import { looksLikeUuid, type Ref } from "vmbranch/sdk";
import type { InstanceRecord, VolumeRecord } from "../store/records";
import type { Store } from "../store/store";
import { ApiError } from "./errors";

/** The instance or instance template named by `id`, or null. */
export function findAnyInstance(store: Store, id: string): InstanceRecord | null {
  return looksLikeUuid(id) ? store.instances.get({ uuid: id.toLowerCase() }) : store.instances.select("name = ?", [id])[0] ?? null;
}

/** The instance (not template) named by `id`, or null. */
export function findInstance(store: Store, id: string): InstanceRecord | null {
  const rec = findAnyInstance(store, id);
  return rec && rec.state !== "template" ? rec : null;
}

/** The instance named by `id`; 404 when missing. */
export function requireInstance(store: Store, id: string): InstanceRecord {
  const rec = findInstance(store, id);
  if (!rec) throw new ApiError("INSTANCE_NOT_FOUND", `Instance '${id}' not found`);
  return rec;
}

/** The instance template named by `id`; 404 when missing. */
export function requireInstanceTemplate(store: Store, id: string): InstanceRecord {
  const rec = looksLikeUuid(id) ? store.instances.get({ uuid: id.toLowerCase() }) : store.instances.select("name = ?", [id])[0] ?? null;
  if (!rec || rec.state !== "template") throw new ApiError("TEMPLATE_NOT_FOUND", `Instance template '${id}' not found`);
  return rec;
}

/** The volume (any state, templates included) named by `id`, or null. */
export function findVolume(store: Store, id: string): VolumeRecord | null {
  return looksLikeUuid(id) ? store.volumes.get({ uuid: id.toLowerCase() }) : store.volumes.select("name = ?", [id])[0] ?? null;
}

/** The volume named by `id` that is not a template; 404 when missing. */
export function requireVolume(store: Store, id: string): VolumeRecord {
  const rec = findVolume(store, id);
  if (!rec || rec.state === "template") throw new ApiError("VOLUME_NOT_FOUND", `Volume '${id}' not found`);
  return rec;
}

/** The volume template named by `id`; 404 when missing. */
export function requireVolumeTemplate(store: Store, id: string): VolumeRecord {
  const rec = findVolume(store, id);
  if (!rec || rec.state !== "template") throw new ApiError("VOLUME_TEMPLATE_NOT_FOUND", `Volume template '${id}' not found`);
  return rec;
}

/** The string form of a `{uuid}|{name}` reference. */
export function refId(ref: Ref): string {
  return (ref.uuid ?? ref.name)!;
}

/** Parse `?tags=a,b` into a list (AND semantics). */
export function parseTagFilter(tags: string | undefined): string[] {
  return (tags ?? "").split(",").map((t) => t.trim()).filter((t) => t.length > 0);
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
