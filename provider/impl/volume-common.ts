/**
 * What the three volume resources (Volume, VolumeTemplate, VolumeClone) share: resolving inputs,
 * the computed fields of the API's volume object, the PATCH operations for tags and delete lock,
 * the field-table diff (docs/provider.md), waiting for a volume's data, the inputs a refresh
 * reports, reading outputs written by any provider version, and the `read` and `delete` they do
 * alike. Each resource module owns its own fields, requests and the rest of its methods.
 */
import type { Volume, VolumeUpdateOp, VmbranchClient } from "vmbranch/sdk";
import type { DiffDetail } from "./instance-diff";
import { nameIsFixed, type NamingInputs } from "./naming";
import { failure, isNotFound } from "./errors";
import { operationMs, resolveTimeouts, type Deadline, type OperationOptions, type TimeoutsInput } from "./timeouts";
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


/** How one volume resource reaches its objects: the volume endpoints, or the volume template ones. */
export interface VolumeEndpoints {
  /** For messages: "volume", "volume template", "volume clone". */
  kind: string;
  get(client: VmbranchClient, id: string): Promise<Volume>;
  delete(client: VmbranchClient, id: string, timeoutMs: number): Promise<unknown>;
}

/** The volume endpoints (volumes and clones). */
export const VOLUME_ENDPOINTS = (kind: string): VolumeEndpoints => ({
  kind,
  get: (client, id) => client.volumes.get(id),
  delete: (client, id, timeoutMs) => client.volumes.delete(id, { timeoutMs }),
});

/** What `readVolumeResource` needs to know about one resource. */
export interface VolumeReadSpec<I extends VolumeBaseInputs, O> {
  endpoints: VolumeEndpoints;
  /** Outputs from the server's object and the inputs. */
  outputs(v: Volume, i: I): O;
  /** Inputs the server does not know, kept from the stored outputs across a refresh (besides naming, timeouts and triggers). */
  kept: readonly string[];
  /** The inputs that describe a volume the state does not hold yet (a lookup by id). */
  inputsFromServer(v: Volume): Record<string, unknown>;
}

/**
 * `read` of a volume resource: the server's view (size, tags and lock drift) and the inputs as they
 * now stand (so a refresh names what drifted); no id when it is gone. With no stored outputs (a
 * lookup by id) the server's values stand for the inputs.
 */
export async function readVolumeResource<I extends VolumeBaseInputs, O>(
  client: VmbranchClient,
  id: string,
  props: Record<string, unknown> | undefined,
  spec: VolumeReadSpec<I, O>,
): Promise<{ id?: string; props?: O; inputs?: Record<string, unknown> }> {
  let v: Volume;
  try {
    v = await spec.endpoints.get(client, id);
  } catch (err) {
    if (isNotFound(err)) return {};
    throw failure(`reading ${spec.endpoints.kind} '${id}'`, err);
  }
  if (!props || typeof props.uuid !== "string") return { id: v.uuid, props: spec.outputs(v, {} as I), inputs: spec.inputsFromServer(v) };
  const prev = upgradeVolumeOutputs<Record<string, unknown>>(props, spec.endpoints.kind);
  const keep = ["namePrefix", "autoNamed", "timeouts", "triggers", ...spec.kept];
  const kept = resolveVolumeInputs<I>(Object.fromEntries(keep.map((k) => [k, prev[k]])));
  const outs = { ...spec.outputs(v, kept), managedInputs: prev.managedInputs } as O;
  const inputs = volumeInputsAfterRefresh(outs as Record<string, unknown>);
  return { id: v.uuid, props: outs, ...(inputs ? { inputs } : {}) };
}

/** `delete` of a volume resource: refused by the API while attached, depended on or locked; already gone is fine. */
export async function removeVolumeResource(client: VmbranchClient, id: string, props: Record<string, unknown>, endpoints: VolumeEndpoints, opts: OperationOptions = {}): Promise<void> {
  const timeoutMs = operationMs(resolveTimeouts((isRecord(props.timeouts) ? props.timeouts : undefined) as TimeoutsInput | undefined).deleteMs, opts);
  try {
    await endpoints.delete(client, id, timeoutMs);
  } catch (err) {
    if (!isNotFound(err)) throw failure(`deleting ${endpoints.kind} '${String(props.name ?? id)}'`, err);
  }
}
