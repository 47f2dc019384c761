/**
 * The Checkpoint resource provider: a named restore point captured from an instance (its memory
 * when it runs or is in standby, and its block volumes), from which Instances load with their
 * `checkpoint` input. Created once — a checkpoint records one instant — so the source, the name
 * and `triggers` replace it; tags, delete lock and the delete-on-idle policy change in place. `create`
 * answers once the capture is complete, so instances that load it can follow at once. Loaded at
 * run time through `require("vmbranch/provider/impl/checkpoint")`.
 */
import { CheckpointCreateItemSchema, type CheckpointCreateItem, type Instance, type TemplatePatchOp } from "vmbranch/sdk";
import { schemaFailures, triggersFailures, uniqueFailures, unknownInputFailures, type CheckFailure } from "./check-failures";
import { connectionFailures, withClient } from "./connection";
import { failure, isNotFound } from "./errors";
import { answerOf, type DiffAnswer, type DiffDetail } from "./instance-diff";
import { toRef } from "./instance-request";
import { resolveName, type CheckOptions } from "./naming";
import { Deadline, operationMs, resolveTimeouts, timeoutsFailures, type OperationOptions } from "./timeouts";
import { isRecord, isUnknown, jsonEqual, managedInputsOf, plain } from "./values";
import { diffByTable, knownOr, knownTags, propertyOf, resolveVolumeInputs, volumeInputsAfterRefresh, type VolumeBaseInputs } from "./volume-common";

export { configure } from "./connection";

/** Inputs of a Checkpoint. */
export interface CheckpointInputs extends VolumeBaseInputs {
  /** Name or uuid of the instance to capture. */
  sourceInstance?: string;
  /** Delete the checkpoint this long after its last load (0 or unset: never). */
  autokillMs?: number;
}

/** Version of the Checkpoint output layout. */
export const CHECKPOINT_SCHEMA_VERSION = 1;
/** Inputs whose change replaces the checkpoint (it captured one instant of one source; `triggers` capture again). */
export const CHECKPOINT_REPLACE_FIELDS = ["name", "sourceInstance", "triggers"] as const;
/** Inputs updated in place (`timeouts` is only stored). */
export const CHECKPOINT_UPDATE_FIELDS = ["tags", "deleteLock", "autokillMs", "timeouts"] as const;
const KNOWN_INPUTS = ["name", "namePrefix", "autoNamed", "sourceInstance", "tags", "deleteLock", "autokillMs", "timeouts", "triggers"];
const RENAMES: Record<string, string> = { from: "sourceInstance", delete_lock: "deleteLock", autokill: "autokillMs" };

/** The `POST /v1/instances/checkpoints` item; unknown values become valid placeholders (check during preview). */
export function checkpointRequest(i: Record<string, unknown>): CheckpointCreateItem {
  const source = i.sourceInstance;
  const autokill = knownOr<number>(i.autokillMs, 0);
  const req: Record<string, unknown> = {
    from: source === undefined ? undefined : isUnknown(source) ? { name: "unknown-during-preview" } : toRef(source as string),
    name: knownOr(i.name, "unknown-during-preview"),
    tags: knownTags(i.tags),
    delete_lock: knownOr(i.deleteLock, false),
    autokill: autokill === undefined ? undefined : { time_ms: autokill },
  };
  for (const k of Object.keys(req)) if (req[k] === undefined) delete req[k];
  return req as CheckpointCreateItem;
}

/** `check`: auto-name, a source instance is required, and the API's verdict on the request. */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>, opts: CheckOptions = {}): Promise<{ inputs: CheckpointInputs; failures: CheckFailure[] }> {
  const old = olds ? resolveVolumeInputs<CheckpointInputs>(olds) : undefined;
  const inputs = resolveName(old, resolveVolumeInputs<CheckpointInputs>(news), opts);
  const raw = inputs as unknown as Record<string, unknown>;
  const failures = [...unknownInputFailures(raw, KNOWN_INPUTS), ...timeoutsFailures(raw.timeouts), ...triggersFailures(raw.triggers)];
  if (raw.sourceInstance === undefined) failures.push({ property: "sourceInstance", reason: "Missing 'sourceInstance': the name or uuid of the instance to capture" });
  else failures.push(...schemaFailures(CheckpointCreateItemSchema, checkpointRequest(raw), (f) => propertyOf(f, RENAMES)));
  failures.push(...connectionFailures());
  return { inputs, failures: uniqueFailures(failures) };
}

/** `diff`: a new source or name replaces; tags, lock and policy update in place. */
export async function diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffAnswer> {
  return answerOf(await diffDetail(id, olds, news));
}

/** `diff` naming the inputs updated in place too (the schema-based plugin's detailed diff). */
export async function diffDetail(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffDetail> {
  const o = { ...olds, autokillMs: typeof olds.autokillMs === "number" ? olds.autokillMs : 0 };
  const n = resolveVolumeInputs<Record<string, unknown>>(news);
  if (n.autokillMs === undefined) n.autokillMs = 0;
  return diffByTable(o, n, CHECKPOINT_REPLACE_FIELDS, CHECKPOINT_UPDATE_FIELDS);
}

/** Outputs from the server's checkpoint and the inputs. */
export function checkpointOutputs(c: Instance, i: CheckpointInputs) {
  return plain({
    schemaVersion: CHECKPOINT_SCHEMA_VERSION,
    name: c.name,
    namePrefix: i.namePrefix ?? null,
    autoNamed: i.autoNamed ?? false,
    sourceInstance: i.sourceInstance ?? c.checkpoint?.source.name ?? null,
    tags: c.tags,
    deleteLock: c.delete_lock,
    autokillMs: c.checkpoint_autokill?.time_ms ?? 0,
    timeouts: i.timeouts ?? null,
    triggers: i.triggers ?? null,
    managedInputs: managedInputsOf(i),
    uuid: c.uuid,
    state: c.state,
    hasMemory: c.checkpoint?.has_memory ?? false,
    sourceInstanceUuid: c.checkpoint?.source.uuid ?? null,
    sourceInstanceName: c.checkpoint?.source.name ?? null,
    sourcePauseMs: c.checkpoint?.source_pause_ms ?? null,
    createdAt: c.created_at,
    readyAt: c.checkpoint?.ready_at ?? null,
    loads: c.checkpoint?.loads ?? 0,
  });
}

/** `create`: capture, and answer once the checkpoint is ready (an instance can load it right away). */
export async function create(inputs: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ id: string; outs: ReturnType<typeof checkpointOutputs> }> {
  const i = resolveVolumeInputs<CheckpointInputs>(inputs);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).createMs, opts));
  return withClient(async (client) => {
    try {
      let c = await client.instances.checkpoints.create(checkpointRequest(i as Record<string, unknown>), { timeoutMs: deadline.remainingMs() });
      if (c.state !== "checkpoint") c = await client.instances.checkpoints.waitFor(c.uuid, { timeoutMs: deadline.remainingMs() });
      return { id: c.uuid, outs: checkpointOutputs(c, i) };
    } catch (err) {
      throw failure(`creating checkpoint '${i.name}' of instance '${i.sourceInstance}'`, err);
    }
  });
}

/**
 * `read`: the server's view and the inputs as they now stand (so a refresh names what drifted);
 * no id when the checkpoint is gone (deleted, or by its autokill).
 */
export async function read(id: string, props?: Record<string, unknown>): Promise<{ id?: string; props?: ReturnType<typeof checkpointOutputs>; inputs?: Record<string, unknown> }> {
  return withClient(async (client) => {
    let c: Instance;
    try {
      c = await client.instances.checkpoints.get(id);
    } catch (err) {
      if (isNotFound(err)) return {};
      throw failure(`reading checkpoint '${id}'`, err);
    }
    if (!props || typeof props.uuid !== "string") {
      // Nothing stored (a lookup by id): the server's values stand for the inputs.
      const outs = checkpointOutputs(c, {});
      return { id: c.uuid, props: outs, inputs: plain({ name: outs.name, sourceInstance: outs.sourceInstance, tags: outs.tags, deleteLock: outs.deleteLock, autokillMs: outs.autokillMs }) };
    }
    const kept = resolveVolumeInputs<CheckpointInputs>({ namePrefix: props.namePrefix, autoNamed: props.autoNamed, timeouts: props.timeouts, triggers: props.triggers, sourceInstance: props.sourceInstance });
    const outs = { ...checkpointOutputs(c, kept), managedInputs: Array.isArray(props.managedInputs) ? (props.managedInputs as string[]) : null };
    const inputs = volumeInputsAfterRefresh(outs);
    return { id: c.uuid, props: outs as ReturnType<typeof checkpointOutputs>, ...(inputs ? { inputs } : {}) };
  });
}

/** `update`: tags, delete lock and delete-on-idle policy. */
export async function update(id: string, _olds: Record<string, unknown>, news: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ outs: ReturnType<typeof checkpointOutputs> }> {
  const i = resolveVolumeInputs<CheckpointInputs>(news);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).updateMs, opts));
  return withClient(async (client) => {
    try {
      const cur = await client.instances.checkpoints.get(id, { timeoutMs: deadline.remainingMs() });
      const ops: TemplatePatchOp[] = [];
      if (i.tags !== undefined && !jsonEqual([...new Set(cur.tags)].sort(), [...new Set(i.tags)].sort())) ops.push({ prop: "tags", op: "set", value: [...new Set(i.tags)] });
      if (cur.delete_lock !== (i.deleteLock ?? false)) ops.push({ prop: "delete_lock", op: "set", value: i.deleteLock ?? false });
      if ((cur.checkpoint_autokill?.time_ms ?? 0) !== (i.autokillMs ?? 0)) ops.push({ prop: "autokill", op: "set", value: { time_ms: i.autokillMs ?? 0 } });
      const c = ops.length > 0 ? await client.instances.checkpoints.update(id, ops, { timeoutMs: deadline.remainingMs() }) : cur;
      return { outs: checkpointOutputs(c, i) };
    } catch (err) {
      throw failure(`updating checkpoint '${i.name}'`, err);
    }
  });
}

/** `delete`: refused by the API while locked; already gone (its autokill) is fine. Instances loaded from it stay. */
export async function remove(id: string, props: Record<string, unknown>, opts: OperationOptions = {}): Promise<void> {
  const timeoutMs = operationMs(resolveTimeouts((isRecord(props.timeouts) ? props.timeouts : undefined) as CheckpointInputs["timeouts"]).deleteMs, opts);
  await withClient(async (client) => {
    try {
      await client.instances.checkpoints.delete(id, { timeoutMs });
    } catch (err) {
      if (!isNotFound(err)) throw failure(`deleting checkpoint '${String(props.name ?? id)}'`, err);
    }
  });
}
