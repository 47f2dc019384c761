/**
 * The Volume resource provider: a persistent volume (ext4 block volume of `sizeMb`, a copy of a
 * volume template, or a managed host directory). Loaded at run time in the engine's provider
 * process through `require("vmbranch/provider/impl/volume")` (a path stored in users' states:
 * docs/provider.md, "Upgrading"). Replaces on name, filesystem, hostPath, uid, gid and template;
 * grows, retags and (un)locks in place.
 */
import { VolumeCreateRequestSchema, messages, type Volume, type VolumeCreateParams, type VolumeUpdateOp } from "vmbranch/sdk";
import { withClient } from "./connection";
import { failure, partialStateError } from "./errors";
import { toRef } from "./instance-request";
import { Deadline, operationMs, resolveTimeouts, type OperationOptions } from "./timeouts";
import { isUnknown, plain, withoutUndefined } from "./values";
import { baseEcho, knownOr, knownTags, resolveVolumeInputs, untilUsable, volumeComputed, type VolumeBaseInputs } from "./volume-common";
import { volumeLikeResource } from "./volume-like";

export { configure } from "./connection";

/** Inputs of a Volume. */
export interface VolumeInputs extends VolumeBaseInputs {
  sizeMb?: number;
  filesystem?: string;
  hostPath?: string;
  uid?: number;
  gid?: number;
  template?: string;
  /** The host to keep it on; the server places it when unset. */
  host?: string;
}

/** Outputs of a Volume: the inputs (the server's values when unset) and computed fields. */
export type VolumeOutputs = ReturnType<typeof volumeOutputs>;

/** Inputs whose change replaces the volume (`host` too: nothing moves a volume between hosts). */
export const VOLUME_REPLACE_FIELDS = ["name", "filesystem", "hostPath", "uid", "gid", "template", "host"] as const;
/** Inputs updated in place (`sizeMb` only grows; `timeouts` is only stored). */
export const VOLUME_UPDATE_FIELDS = ["sizeMb", "tags", "deleteLock", "timeouts"] as const;
const KNOWN_INPUTS = ["name", "namePrefix", "autoNamed", "sizeMb", "filesystem", "hostPath", "uid", "gid", "template", "host", "tags", "deleteLock", "timeouts"];
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
    host: knownOr(i.host, "unknown-during-preview"),
  };
  return withoutUndefined(req) as VolumeCreateParams;
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
    // Where the server placed it (absent from servers older than hosts).
    host: v.host ?? null,
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

/** The inputs that describe `v` as it is. */
export function volumeInputsFromServer(v: Volume): Record<string, unknown> {
  const origin =
    v.kind === "managed" ? { hostPath: v.host_path, uid: v.uid, gid: v.gid } : v.template ? { template: v.template.name, sizeMb: v.size_mb } : { sizeMb: v.size_mb, filesystem: v.filesystem };
  return plain({ name: v.name, ...origin, tags: v.tags, deleteLock: v.delete_lock });
}

/**
 * `check` (auto-name; the API's verdict; a shrink is refused with the API's message), `diff` by
 * the tables above (docs/provider.md, "Volume"), `read` (the server's view and the inputs as they
 * now stand; no id when the volume is gone), `update` (grow, retag, (un)lock; a volume left not
 * yet usable by a partial create is waited for first) and `delete` (refused while attached or
 * locked; already gone is fine).
 */
export const { check, diff, diffDetail, read, update, remove } = volumeLikeResource({
  kind: "volume",
  api: (client) => client.volumes,
  knownInputs: KNOWN_INPUTS,
  replaceFields: VOLUME_REPLACE_FIELDS,
  updateFields: VOLUME_UPDATE_FIELDS,
  request: volumeCreateRequest,
  requestSchema: VolumeCreateRequestSchema,
  renames: RENAMES,
  moreFailures: (old, inputs) => {
    const from = old?.sizeMb;
    const to = inputs.sizeMb;
    return typeof from === "number" && typeof to === "number" && to < from ? [{ property: "sizeMb", reason: messages.volumeShrink(from, to) }] : [];
  },
  outputs: volumeOutputs,
  kept: ["template"],
  inputsFromServer: volumeInputsFromServer,
  untilUsable,
  updateOps: { before: (cur, i): VolumeUpdateOp[] => (i.sizeMb !== undefined && i.sizeMb !== cur.size_mb ? [{ prop: "size_mb", op: "set", value: i.sizeMb }] : []) },
});
