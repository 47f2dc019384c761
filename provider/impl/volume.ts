/**
 * The Volume resource provider: a persistent volume (ext4 block volume of `sizeMb`, a copy of a
 * volume template, or a managed host directory). Loaded at run time in the engine's provider
 * process through `require("vmbranch/provider/impl/volume")` (a path stored in users' states:
 * docs/provider.md, "Upgrading"). Replaces on name, filesystem, hostPath, uid, gid and template;
 * grows, retags and (un)locks in place.
 */
import { VolumeCreateRequestSchema, messages, type Volume, type VolumeCreateParams } from "vmbranch/sdk";
import { schemaFailures, uniqueFailures, unknownInputFailures, type CheckFailure } from "./check-failures";
import { connectionFailures, withClient } from "./connection";
import { failure, partialStateError } from "./errors";
import { answerOf, type DiffAnswer, type DiffDetail } from "./instance-diff";
import { toRef } from "./instance-request";
import { resolveName, type CheckOptions } from "./naming";
import { Deadline, operationMs, resolveTimeouts, timeoutsFailures, type OperationOptions } from "./timeouts";
import { isUnknown, plain } from "./values";
import {
  VOLUME_ENDPOINTS,
  baseEcho,
  diffByTable,
  knownOr,
  knownTags,
  propertyOf,
  readVolumeResource,
  removeVolumeResource,
  resolveVolumeInputs,
  tagsAndLockOps,
  untilUsable,
  upgradeVolumeOutputs,
  volumeComputed,
  type VolumeBaseInputs,
} from "./volume-common";

export { configure } from "./connection";

/** Inputs of a Volume. */
export interface VolumeInputs extends VolumeBaseInputs {
  sizeMb?: number;
  filesystem?: string;
  hostPath?: string;
  uid?: number;
  gid?: number;
  template?: string;
}

/** Outputs of a Volume: the inputs (the server's values when unset) and computed fields. */
export type VolumeOutputs = ReturnType<typeof volumeOutputs>;

/** Inputs whose change replaces the volume. */
export const VOLUME_REPLACE_FIELDS = ["name", "filesystem", "hostPath", "uid", "gid", "template"] as const;
/** Inputs updated in place (`sizeMb` only grows; `timeouts` is only stored). */
export const VOLUME_UPDATE_FIELDS = ["sizeMb", "tags", "deleteLock", "timeouts"] as const;
const ENDPOINTS = VOLUME_ENDPOINTS("volume");
const KNOWN_INPUTS = ["name", "namePrefix", "autoNamed", "sizeMb", "filesystem", "hostPath", "uid", "gid", "template", "tags", "deleteLock", "timeouts"];
const RENAMES: Record<string, string> = { template: "template", delete_lock: "deleteLock" };

/** The `POST /v1/volumes` body; unknown values become valid placeholders (check during preview). */
export function volumeCreateRequest(i: Record<string, unknown>): VolumeCreateParams {
  const req: Record<string, unknown> = {
    name: knownOr(i.name, "unknown-during-preview"),
    size_mb: knownOr(i.sizeMb, 1),
    filesystem: knownOr(i.filesystem, "ext4"),
    template: i.template === undefined ? undefined : isUnknown(i.template) ? { name: "unknown-during-preview" } : toRef(i.template as string),
    host_path: knownOr(i.hostPath, "/unknown"),
    uid: knownOr(i.uid, 0),
    gid: knownOr(i.gid, 0),
    tags: knownTags(i.tags),
    delete_lock: knownOr(i.deleteLock, false),
  };
  for (const k of Object.keys(req)) if (req[k] === undefined) delete req[k];
  return req as VolumeCreateParams;
}

/** `check`: auto-name; the API's verdict; a shrink is refused with the API's message. */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>, opts: CheckOptions = {}): Promise<{ inputs: VolumeInputs; failures: CheckFailure[] }> {
  const old = olds ? resolveVolumeInputs<VolumeInputs>(olds) : undefined;
  const inputs = resolveName(old, resolveVolumeInputs<VolumeInputs>(news), opts);
  const raw = inputs as unknown as Record<string, unknown>;
  const failures = [
    ...unknownInputFailures(raw, KNOWN_INPUTS),
    ...timeoutsFailures(raw.timeouts),
    ...schemaFailures(VolumeCreateRequestSchema, volumeCreateRequest(raw), (f) => propertyOf(f, RENAMES)),
    ...connectionFailures(),
  ];
  const from = old?.sizeMb;
  const to = inputs.sizeMb;
  if (typeof from === "number" && typeof to === "number" && to < from) failures.push({ property: "sizeMb", reason: messages.volumeShrink(from, to) });
  return { inputs, failures: uniqueFailures(failures) };
}

/** `diff`: replace or update by the table above (docs/provider.md, "Volume"). */
export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffAnswer> {
  return answerOf(await diffDetail(_id, olds, news));
}

/** `diff` naming the inputs updated in place too (the schema-based plugin's detailed diff). */
export async function diffDetail(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffDetail> {
  return diffByTable(upgradeVolumeOutputs(olds, "volume"), resolveVolumeInputs(news), VOLUME_REPLACE_FIELDS, VOLUME_UPDATE_FIELDS);
}

/** Outputs from the server's volume and the inputs. */
export function volumeOutputs(v: Volume, i: VolumeInputs) {
  return plain({
    ...baseEcho(v, i),
    ...volumeComputed(v),
    sizeMb: v.size_mb,
    filesystem: v.filesystem,
    hostPath: v.host_path,
    uid: v.uid,
    gid: v.gid,
    template: i.template ?? v.template?.name ?? null,
  });
}

/** `create`: the volume is usable when this returns (a volume not yet available is kept in state with its id). */
export async function create(inputs: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ id: string; outs: VolumeOutputs }> {
  const i = resolveVolumeInputs<VolumeInputs>(inputs);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).createMs, opts));
  return withClient(async (client) => {
    let v: Volume;
    try {
      v = await client.volumes.create(volumeCreateRequest(i as Record<string, unknown>), { timeoutMs: deadline.remainingMs() });
    } catch (err) {
      throw failure(`creating volume '${i.name}'`, err);
    }
    try {
      v = await untilUsable(client, v, deadline);
      return { id: v.uuid, outs: volumeOutputs(v, i) };
    } catch (err) {
      const last = await client.volumes.get(v.uuid).catch(() => v);
      throw partialStateError(`vmbranch: volume '${v.name}' was created but is not available: ${(err as Error).message}`, v.uuid, volumeOutputs(last, i), inputs);
    }
  });
}

/** `read`: the server's view and the inputs as they now stand; no id when the volume is gone. */
export async function read(id: string, props?: Record<string, unknown>): Promise<{ id?: string; props?: VolumeOutputs; inputs?: Record<string, unknown> }> {
  return withClient((client) => readVolumeResource(client, id, props, { endpoints: ENDPOINTS, outputs: volumeOutputs, kept: ["template"], inputsFromServer: volumeInputsFromServer }));
}

/** The inputs that describe `v` as it is. */
export function volumeInputsFromServer(v: Volume): Record<string, unknown> {
  const origin =
    v.kind === "managed" ? { hostPath: v.host_path, uid: v.uid, gid: v.gid } : v.template ? { template: v.template.name, sizeMb: v.size_mb } : { sizeMb: v.size_mb, filesystem: v.filesystem };
  return plain({ name: v.name, ...origin, tags: v.tags, deleteLock: v.delete_lock });
}

/** `update`: grow, retag, (un)lock; a volume left not yet usable by a partial create is waited for first. */
export async function update(id: string, _olds: Record<string, unknown>, news: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ outs: VolumeOutputs }> {
  const i = resolveVolumeInputs<VolumeInputs>(news);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).updateMs, opts));
  return withClient(async (client) => {
    try {
      const cur = await untilUsable(client, await client.volumes.get(id, { timeoutMs: deadline.remainingMs() }), deadline);
      const ops = tagsAndLockOps(cur, i);
      if (i.sizeMb !== undefined && i.sizeMb !== cur.size_mb) ops.unshift({ prop: "size_mb", op: "set", value: i.sizeMb });
      const v = ops.length > 0 ? await client.volumes.update(id, ops, { timeoutMs: deadline.remainingMs() }) : cur;
      return { outs: volumeOutputs(v, i) };
    } catch (err) {
      throw failure(`updating volume '${i.name}'`, err);
    }
  });
}

/** `delete`: refused by the API while attached or locked; already gone is fine. */
export async function remove(id: string, props: Record<string, unknown>, opts: OperationOptions = {}): Promise<void> {
  await withClient((client) => removeVolumeResource(client, id, props, ENDPOINTS, opts));
}
