/**
 * The Checkpoint resource provider: a named restore point captured from an instance (its memory
 * when it runs or is in standby, and its block volumes), from which Instances load with their
 * `checkpoint` input. Created once — a checkpoint records one instant — so the source, the name
 * and `triggers` replace it; tags, delete lock and the delete-on-idle policy change in place. `create`
 * answers once the capture is complete, so instances that load it can follow at once. Loaded at
 * run time through `require("vmbranch/provider/impl/checkpoint")`.
 */
import { CheckpointCreateItemSchema, type CheckpointCreateItem, type Instance, type TemplatePatchOp } from "vmbranch/sdk";
import { withClient } from "./connection";
import { failure } from "./errors";
import { toRef } from "./instance-request";
import { Deadline, operationMs, resolveTimeouts, type OperationOptions } from "./timeouts";
import { isUnknown, managedInputsOf, plain, withoutUndefined } from "./values";
import { knownOr, knownTags, resolveVolumeInputs, type VolumeBaseInputs } from "./volume-common";
import { volumeLikeResource } from "./volume-like";

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
  return withoutUndefined(req) as CheckpointCreateItem;
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
 * `check` (auto-name, a source instance is required, and the API's verdict), `diff` (a new source
 * or name replaces; tags, lock and policy update in place), `read` (the server's view and the
 * inputs as they now stand; no id when the checkpoint is gone, deleted or by its autokill),
 * `update` (tags, delete lock and delete-on-idle policy) and `delete` (refused while locked;
 * already gone is fine; instances loaded from it stay).
 */
export const { check, diff, diffDetail, read, update, remove } = volumeLikeResource({
  kind: "checkpoint",
  api: (client) => client.instances.checkpoints,
  knownInputs: KNOWN_INPUTS,
  replaceFields: CHECKPOINT_REPLACE_FIELDS,
  updateFields: CHECKPOINT_UPDATE_FIELDS,
  request: checkpointRequest,
  requestSchema: CheckpointCreateItemSchema,
  renames: RENAMES,
  source: { property: "sourceInstance", reason: "Missing 'sourceInstance': the name or uuid of the instance to capture" },
  defaults: { autokillMs: 0 },
  outputs: checkpointOutputs,
  kept: ["sourceInstance"],
  inputsFromServer: (c: Instance) => {
    const outs = checkpointOutputs(c, {});
    return plain({ name: outs.name, sourceInstance: outs.sourceInstance, tags: outs.tags, deleteLock: outs.deleteLock, autokillMs: outs.autokillMs });
  },
  updateOps: {
    after: (cur, i): TemplatePatchOp[] =>
      (cur.checkpoint_autokill?.time_ms ?? 0) !== (i.autokillMs ?? 0) ? [{ prop: "autokill", op: "set", value: { time_ms: i.autokillMs ?? 0 } }] : [],
  },
});
