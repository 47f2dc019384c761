/**
 * What the three volume resources (Volume, VolumeTemplate, VolumeClone) share: resolving inputs,
 * the computed fields of the API's volume object, the PATCH operations for tags and delete lock,
 * the field-table diff of DESIGN.md §4, and reading outputs written by any provider version.
 * Each resource module owns its own fields, requests and methods. No I/O.
 */
import type { Volume, VolumeUpdateOp } from "vmbranch/sdk";
import type { DiffAnswer } from "./instance-diff";
import { nameIsFixed, type NamingInputs } from "./naming";
import type { TimeoutsInput } from "./timeouts";
import { containsUnknown, isRecord, isUnknown, jsonEqual } from "./values";

/** Inputs every volume resource has. */
export interface VolumeBaseInputs extends NamingInputs {
  tags?: string[];
  deleteLock?: boolean;
  timeouts?: TimeoutsInput;
}

/** Version of the volume resources' output layout; bump it (and upgrade old states) when it changes. */
export const VOLUME_SCHEMA_VERSION = 1;

/** Inputs as the engine sent them, `null` treated as absent, the engine's `__provider` removed. */
export function resolveVolumeInputs<T extends VolumeBaseInputs>(raw: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== null && v !== undefined && k !== "__provider") out[k] = v;
  return out as T;
}

/** The computed fields of an API volume (or template) object, as outputs. */
export function volumeComputed(v: Volume) {
  return {
    uuid: v.uuid,
    state: v.state,
    kind: v.kind,
    attachedTo: v.attached_to.map((a) => a.name),
    persistent: v.persistent,
    createdAt: v.created_at,
  };
}

/** The echo of the shared inputs: tags and delete lock as the server has them now. */
export function baseEcho(v: Volume, i: VolumeBaseInputs, resourceVersion = VOLUME_SCHEMA_VERSION) {
  return {
    schemaVersion: resourceVersion,
    name: v.name,
    namePrefix: i.namePrefix ?? null,
    autoNamed: i.autoNamed ?? false,
    tags: v.tags,
    deleteLock: v.delete_lock,
    timeouts: i.timeouts ?? null,
  };
}

/** PATCH operations for the tags the user manages and the delete lock (default false). */
export function tagsAndLockOps(cur: Volume, i: VolumeBaseInputs): VolumeUpdateOp[] {
  const ops: VolumeUpdateOp[] = [];
  if (i.tags !== undefined && !jsonEqual(tagSet(cur.tags), tagSet(i.tags))) ops.push({ prop: "tags", op: "set", value: [...new Set(i.tags)] });
  const lock = i.deleteLock ?? false;
  if (cur.delete_lock !== lock) ops.push({ prop: "delete_lock", op: "set", value: lock });
  return ops;
}

function tagSet(tags: readonly string[]): string[] {
  return [...new Set(tags)].sort();
}

/**
 * Diff by field table: a change of a `replace` field replaces, of an `update` field updates in
 * place. Unset inputs are not managed (never a diff), except `deleteLock` (default false).
 * Tags compare as sets. A fixed name means the old resource must go before the new one comes.
 */
export function diffByTable(olds: Record<string, unknown>, news: Record<string, unknown>, replace: readonly string[], update: readonly string[]): DiffAnswer {
  const changed = (field: string): boolean => {
    const value = news[field];
    if (field === "deleteLock") return isUnknown(value) || (value === true) !== (olds.deleteLock === true);
    if (value === undefined || value === null) return false;
    if (containsUnknown(value)) return true;
    if (field === "tags") return !jsonEqual(tagSet(Array.isArray(olds.tags) ? (olds.tags as string[]) : []), tagSet(value as string[]));
    return !jsonEqual(olds[field] ?? null, value);
  };
  const replaces = replace.filter(changed);
  const changes = replaces.length > 0 || update.some(changed);
  const fixedName = nameIsFixed(news as NamingInputs) || isUnknown(news.name);
  return { changes, replaces, deleteBeforeReplace: replaces.length > 0 && fixedName };
}

/** Outputs of any provider version read as the current layout (version 1 is the first). */
export function upgradeVolumeOutputs<T>(olds: Record<string, unknown>, kind: string): T {
  const version = typeof olds.schemaVersion === "number" ? olds.schemaVersion : 1;
  if (version > VOLUME_SCHEMA_VERSION)
    throw new Error(`This state was written by a newer vmbranch provider (${kind} schema ${version}; this one reads up to ${VOLUME_SCHEMA_VERSION}): upgrade the vmbranch package`);
  return {
    ...olds,
    schemaVersion: VOLUME_SCHEMA_VERSION,
    autoNamed: olds.autoNamed === true,
    tags: Array.isArray(olds.tags) ? olds.tags : [],
    deleteLock: olds.deleteLock === true,
    timeouts: isRecord(olds.timeouts) ? olds.timeouts : null,
  } as T;
}

/** `value` unless unknown, then `placeholder` (check during preview). */
export function knownOr<T>(value: unknown, placeholder: T): T | undefined {
  if (value === undefined) return undefined;
  return isUnknown(value) ? placeholder : (value as T);
}

/** Tags with unknown elements replaced by a valid placeholder (check during preview). */
export function knownTags(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (isUnknown(value)) return [];
  return Array.isArray(value) ? value.map((t) => (isUnknown(t) ? "unknown" : (t as string))) : (value as string[]);
}

/** Map a request field path to an input property through `renames`, else snake_case → camelCase. */
export function propertyOf(field: string, renames: Record<string, string>): string {
  const head = /^[a-z_]*/.exec(field)?.[0] ?? "";
  const rest = field.slice(head.length).replace(/^\.(name|uuid)$/, "");
  return (renames[head] ?? head.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())) + rest;
}

