/**
 * The VolumeTemplate resource provider: an immutable template frozen from a volume's current
 * contents. It uses the API's `mode: "copy"`, never `convert`, so the source Volume resource
 * stays a writable volume and does not drift. Loaded at run time through
 * `require("vmbranch/provider/impl/volume-template")` (a path stored in users' states). Replaces
 * on name, source volume and triggers; tags and delete lock change in place.
 */
import { VolumeTemplateItemSchema, type Volume, type VolumeTemplateItem } from "vmbranch/sdk";
import { withClient } from "./connection";
import { failure } from "./errors";
import { toRef } from "./instance-request";
import { Deadline, operationMs, resolveTimeouts, type OperationOptions } from "./timeouts";
import { isUnknown, plain, withoutUndefined } from "./values";
import { baseEcho, knownOr, knownTags, resolveVolumeInputs, volumeComputed, type VolumeBaseInputs } from "./volume-common";
import { volumeLikeResource } from "./volume-like";

export { configure } from "./connection";

/** Inputs of a VolumeTemplate. */
export interface VolumeTemplateInputs extends VolumeBaseInputs {
  /** Name or uuid of the volume whose current contents are frozen. */
  sourceVolume?: string;
}

/** Outputs of a VolumeTemplate. */
export type VolumeTemplateOutputs = ReturnType<typeof volumeTemplateOutputs>;

/** Inputs whose change replaces the template (a template never changes its data: `triggers` re-freeze it). */
export const VOLUME_TEMPLATE_REPLACE_FIELDS = ["name", "sourceVolume", "triggers"] as const;
/** Inputs updated in place (`timeouts` is only stored). */
export const VOLUME_TEMPLATE_UPDATE_FIELDS = ["tags", "deleteLock", "timeouts"] as const;
const KNOWN_INPUTS = ["name", "namePrefix", "autoNamed", "sourceVolume", "tags", "deleteLock", "timeouts", "triggers"];
// In the request `name`/`uuid` are the source volume's and `template_name` is the template's own.
const RENAMES: Record<string, string> = { "": "sourceVolume", name: "sourceVolume", uuid: "sourceVolume", template_name: "name", mode: "sourceVolume", delete_lock: "deleteLock" };

/** The `POST /v1/volumes/templates` item; unknown values become valid placeholders (check during preview). */
export function volumeTemplateRequest(i: Record<string, unknown>): VolumeTemplateItem {
  const source = i.sourceVolume;
  const req: Record<string, unknown> = {
    ...(source === undefined ? {} : isUnknown(source) ? { name: "unknown-during-preview" } : toRef(source as string)),
    mode: "copy",
    template_name: knownOr(i.name, "unknown-during-preview"),
    tags: knownTags(i.tags),
    delete_lock: knownOr(i.deleteLock, false),
  };
  return withoutUndefined(req) as VolumeTemplateItem;
}

/** Outputs from the server's template and the inputs. */
export function volumeTemplateOutputs(v: Volume, i: VolumeTemplateInputs) {
  const { attachedTo: _unused, ...computed } = volumeComputed(v);
  return plain({
    ...baseEcho(v, i),
    ...computed,
    sourceVolume: i.sourceVolume ?? v.clone?.source.name ?? null,
    sourceVolumeUuid: v.clone?.source.uuid ?? null,
    sourceVolumeName: v.clone?.source.name ?? null,
    sizeMb: v.size_mb,
    filesystem: v.filesystem,
  });
}

/** `create`: freeze the source volume's current contents (copy-on-write) as a new template. */
export async function create(inputs: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ id: string; outs: VolumeTemplateOutputs }> {
  const i = resolveVolumeInputs<VolumeTemplateInputs>(inputs);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).createMs, opts));
  return withClient(async (client) => {
    try {
      const v = await client.volumes.templates.create(volumeTemplateRequest(i as Record<string, unknown>), { timeoutMs: deadline.remainingMs() });
      return { id: v.uuid, outs: volumeTemplateOutputs(v, i) };
    } catch (err) {
      throw failure(`creating volume template '${i.name}' from volume '${i.sourceVolume}'`, err);
    }
  });
}

/**
 * `check` (auto-name, a source volume is required, and the API's verdict), `diff` by the tables
 * above (docs/provider.md, "VolumeTemplate"), `read` (the server's view and the inputs as they now
 * stand; no id when the template is gone), `update` (tags and delete lock) and `delete` (refused
 * while clones depend on it or while locked; already gone is fine).
 */
export const { check, diff, diffDetail, read, update, remove } = volumeLikeResource({
  kind: "volume template",
  api: (client) => client.volumes.templates,
  knownInputs: KNOWN_INPUTS,
  replaceFields: VOLUME_TEMPLATE_REPLACE_FIELDS,
  updateFields: VOLUME_TEMPLATE_UPDATE_FIELDS,
  request: volumeTemplateRequest,
  requestSchema: VolumeTemplateItemSchema,
  renames: RENAMES,
  source: { property: "sourceVolume", reason: "Missing 'sourceVolume': the name or uuid of the volume to freeze" },
  outputs: volumeTemplateOutputs,
  kept: ["sourceVolume"],
  inputsFromServer: (v: Volume) => plain({ name: v.name, sourceVolume: v.clone?.source.name ?? null, tags: v.tags, deleteLock: v.delete_lock }),
});
