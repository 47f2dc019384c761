/**
 * The VolumeClone resource provider: an independent copy-on-write copy of a volume or volume
 * template. The API answers at once with a `pending` volume; create waits until it is
 * `available` within the create deadline, and a clone that exists but is not ready is kept in
 * state with its id. Loaded at run time through `require("vmbranch/provider/impl/volume-clone")`
 * (a path stored in users' states). Replaces on name, source, host and triggers; tags and
 * delete lock change in place.
 */
import { VolumeCloneItemSchema, type Volume, type VolumeCloneItem } from "vmbranch/sdk";
import { withClient } from "./connection";
import { errorMessage, failure, partialStateError } from "./errors";
import { toRef } from "./instance-request";
import { Deadline, operationMs, resolveTimeouts, type OperationOptions } from "./timeouts";
import { isUnknown, plain, withoutUndefined } from "./values";
import { baseEcho, knownOr, knownTags, resolveVolumeInputs, untilUsable, volumeComputed, type VolumeBaseInputs } from "./volume-common";
import { volumeLikeResource } from "./volume-like";

export { configure } from "./connection";

/** Inputs of a VolumeClone. */
export interface VolumeCloneInputs extends VolumeBaseInputs {
  /** Name or uuid of the volume or volume template to copy. */
  source?: string;
  /** The host to make it on; the server keeps it beside its source when unset. */
  host?: string;
}

/** Outputs of a VolumeClone. */
export type VolumeCloneOutputs = ReturnType<typeof volumeCloneOutputs>;

/** Inputs whose change replaces the clone (`host` too: nothing moves a volume between hosts). */
export const VOLUME_CLONE_REPLACE_FIELDS = ["name", "source", "host", "triggers"] as const;
/** Inputs updated in place (`timeouts` is only stored). */
export const VOLUME_CLONE_UPDATE_FIELDS = ["tags", "deleteLock", "timeouts"] as const;
const KNOWN_INPUTS = ["name", "namePrefix", "autoNamed", "source", "host", "tags", "deleteLock", "timeouts", "triggers"];
// In the request `name`/`uuid` are the source's and `vol_name` is the clone's own.
const RENAMES: Record<string, string> = { "": "source", name: "source", uuid: "source", vol_name: "name", delete_lock: "deleteLock" };

/** The `POST /v1/volumes/clone` item; unknown values become valid placeholders (check during preview). */
export function volumeCloneRequest(i: Record<string, unknown>): VolumeCloneItem {
  const source = i.source;
  const req: Record<string, unknown> = {
    ...(source === undefined ? {} : isUnknown(source) ? { name: "unknown-during-preview" } : toRef(source as string)),
    vol_name: knownOr(i.name, "unknown-during-preview"),
    tags: knownTags(i.tags),
    delete_lock: knownOr(i.deleteLock, false),
    host: knownOr(i.host, "unknown-during-preview"),
  };
  return withoutUndefined(req) as VolumeCloneItem;
}

/** Outputs from the server's volume and the inputs. */
export function volumeCloneOutputs(v: Volume, i: VolumeCloneInputs) {
  return plain({
    ...baseEcho(v, i),
    ...volumeComputed(v),
    source: i.source ?? v.clone?.source.name ?? null,
    sourceUuid: v.clone?.source.uuid ?? null,
    sourceName: v.clone?.source.name ?? null,
    /** The template it was cloned from, when the source is a template. */
    template: v.template?.name ?? null,
    sizeMb: v.size_mb,
    filesystem: v.filesystem,
    // Where the server placed it (absent from servers older than hosts).
    host: v.host ?? null,
  });
}

/** `create`: clone, then wait for the data (`pending` → `available`). */
export async function create(inputs: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ id: string; outs: VolumeCloneOutputs }> {
  const i = resolveVolumeInputs<VolumeCloneInputs>(inputs);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).createMs, opts));
  return withClient(async (client) => {
    let uuid: string;
    try {
      const result = await client.volumes.clone(volumeCloneRequest(i as Record<string, unknown>), { timeoutMs: deadline.remainingMs() });
      if (result.uuid === undefined) throw new Error(result.message ?? "the server named no clone");
      uuid = result.uuid;
    } catch (err) {
      throw failure(`cloning '${i.source}' into volume '${i.name}'`, err);
    }
    try {
      const v = await untilUsable(client, await client.volumes.get(uuid, { timeoutMs: deadline.remainingMs() }), deadline);
      return { id: v.uuid, outs: volumeCloneOutputs(v, i) };
    } catch (err) {
      const last = await client.volumes.get(uuid).catch(() => undefined);
      const outs = last ? volumeCloneOutputs(last, i) : { name: i.name ?? "", uuid, source: i.source ?? null, state: "pending" };
      throw partialStateError(`vmbranch: volume clone '${i.name}' was created but its data is not ready within ${deadline.describe()}: ${errorMessage(err)}`, uuid, outs, inputs);
    }
  });
}

/**
 * `check` (auto-name, a source is required, and the API's verdict), `diff` by the tables above
 * (docs/provider.md, "VolumeClone"), `read` (the server's view and the inputs as they now stand; no
 * id when the clone is gone), `update` (tags and delete lock; a clone left `pending` by a partial
 * create is waited for first) and `delete` (refused while attached or locked; already gone is fine).
 */
export const { check, diff, diffDetail, read, update, remove } = volumeLikeResource({
  kind: "volume clone",
  api: (client) => client.volumes,
  knownInputs: KNOWN_INPUTS,
  replaceFields: VOLUME_CLONE_REPLACE_FIELDS,
  updateFields: VOLUME_CLONE_UPDATE_FIELDS,
  request: volumeCloneRequest,
  requestSchema: VolumeCloneItemSchema,
  renames: RENAMES,
  source: { property: "source", reason: "Missing 'source': the name or uuid of the volume or volume template to clone" },
  outputs: volumeCloneOutputs,
  kept: ["source"],
  inputsFromServer: (v: Volume) => plain({ name: v.name, source: v.clone?.source.name ?? null, tags: v.tags, deleteLock: v.delete_lock }),
  untilUsable,
});
