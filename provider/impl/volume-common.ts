/**
 * The pieces the volume-like resources (Volume, VolumeTemplate, VolumeClone, Checkpoint) share:
 * resolving inputs, the computed fields of the API's volume object, the field-table diff
 * (docs/provider.md), waiting for a volume's data, the inputs a refresh reports, reading outputs
 * written by any provider version, and the placeholders `check` uses during preview. The methods
 * built from them live in volume-like.ts.
 */
import type { Volume, VmbranchClient } from "vmbranch/sdk";
import type { DiffDetail } from "./instance-diff";
import { nameIsFixed, type NamingInputs } from "./naming";
import type { Deadline, TimeoutsInput } from "./timeouts";
import { containsUnknown, isRecord, isUnknown, jsonEqual, managedInputsOf } from "./values";

/** Inputs every volume resource has. */
export interface VolumeBaseInputs extends NamingInputs {
  tags?: string[];
  deleteLock?: boolean;
  timeouts?: TimeoutsInput;
  /** Any values; a change replaces the resource (VolumeTemplate, VolumeClone). */
  triggers?: unknown[];
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
    // `offline` when its host stopped heartbeating (absent from servers older than host failure).
    hostState: v.host_state ?? null,
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
    triggers: i.triggers ?? null,
    managedInputs: managedInputsOf(i),
  };
}

/**
 * The inputs as they stand after a refresh, for `read` to report: the inputs the program gave at
 * the last create or update, valued as the refreshed outputs (`outs`) hold them; what drifts in
 * place (size, tags, delete lock) shows the server's values, so the refresh names it. The delete
 * lock has a managed default: reported when set even if the program left it out. Undefined for
 * outputs written before `managedInputs` existed (the engine then keeps the inputs it has).
 */
export function volumeInputsAfterRefresh(outs: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!Array.isArray(outs.managedInputs)) return undefined;
  const keys = new Set(outs.managedInputs as string[]);
  if (outs.deleteLock === true) keys.add("deleteLock");
  return Object.fromEntries([...keys].sort().map((k) => [k, outs[k] ?? null]));
}

/**
 * Wait, within `deadline`, until a volume that exists but whose data is not ready yet (`pending`:
 * a clone copying, or a partial create) is `available` or `mounted`; any other volume as is.
 */
export async function untilUsable(client: VmbranchClient, v: Volume, deadline: Deadline): Promise<Volume> {
  if (v.state === "available" || v.state === "mounted") return v;
  return client.volumes.waitFor(v.uuid, ["available", "mounted"], { timeoutMs: deadline.remainingMs() });
}

/** Tags as a set: without repeats, sorted (tags compare as sets). */
export function tagSet(tags: readonly string[]): string[] {
  return [...new Set(tags)].sort();
}

// The provider's own inputs: unset means the default, so removing one is a change too.
const PROVIDER_SIDE: readonly string[] = ["triggers", "timeouts"];

/**
 * Diff by field table: a change of a `replace` field replaces, of an `update` field updates in
 * place. Unset inputs are not managed (never a diff), except `deleteLock` (default false) and the
 * provider's own `triggers` and `timeouts`. Tags compare as sets. A fixed name means the old
 * resource must go before the new one comes.
 */
export function diffByTable(olds: Record<string, unknown>, news: Record<string, unknown>, replace: readonly string[], update: readonly string[]): DiffDetail {
  const changed = (field: string): boolean => {
    const value = news[field];
    if (field === "deleteLock") return isUnknown(value) || (value === true) !== (olds.deleteLock === true);
    if (PROVIDER_SIDE.includes(field)) return containsUnknown(value) || !jsonEqual(olds[field] ?? null, value ?? null);
    if (value === undefined || value === null) return false;
    if (containsUnknown(value)) return true;
    if (field === "tags") return !jsonEqual(tagSet(Array.isArray(olds.tags) ? (olds.tags as string[]) : []), tagSet(value as string[]));
    return !jsonEqual(olds[field] ?? null, value);
  };
  const replaces = replace.filter(changed);
  const updates = update.filter(changed);
  const changes = replaces.length > 0 || updates.length > 0;
  const fixedName = nameIsFixed(news as NamingInputs) || isUnknown(news.name);
  return { changes, replaces, updates, deleteBeforeReplace: replaces.length > 0 && fixedName };
}

/**
 * Outputs of any provider version read as the current layout (version 1 is the first; fields
 * added since, `triggers` and `managedInputs`, read as null when absent).
 */
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
    triggers: Array.isArray(olds.triggers) ? olds.triggers : null,
    managedInputs: Array.isArray(olds.managedInputs) ? olds.managedInputs : null,
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

