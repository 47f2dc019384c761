/**
 * The VolumeTemplate resource provider: an immutable template frozen from a volume's current
 * contents. It uses the API's `mode: "copy"`, never `convert`, so the source Volume resource
 * stays a writable volume and does not drift. Loaded at run time through
 * `require("vmbranch/provider/impl/volume-template")` (a path stored in users' states). Replaces
 * on name, source volume and triggers; tags and delete lock change in place.
 */
import { VolumeTemplateItemSchema, type Volume, type VmbranchClient, type VolumeTemplateItem } from "vmbranch/sdk";
import { schemaFailures, triggersFailures, uniqueFailures, unknownInputFailures, type CheckFailure } from "./check-failures";
import { connectionFailures, withClient } from "./connection";
import { failure } from "./errors";
import { answerOf, type DiffAnswer, type DiffDetail } from "./instance-diff";
import { toRef } from "./instance-request";
import { resolveName, type CheckOptions } from "./naming";
import { Deadline, operationMs, resolveTimeouts, timeoutsFailures, type OperationOptions } from "./timeouts";
import { isUnknown, plain } from "./values";
import {
  baseEcho,
  diffByTable,
  knownOr,
  knownTags,
  propertyOf,
  readVolumeResource,
  removeVolumeResource,
  resolveVolumeInputs,
  tagsAndLockOps,
  upgradeVolumeOutputs,
  volumeComputed,
  type VolumeBaseInputs,
  type VolumeEndpoints,
} from "./volume-common";

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
const ENDPOINTS: VolumeEndpoints = {
  kind: "volume template",
  get: (client: VmbranchClient, id: string) => client.volumes.templates.get(id),
  delete: (client: VmbranchClient, id: string, timeoutMs: number) => client.volumes.templates.delete(id, { timeoutMs }),
};
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
  for (const k of Object.keys(req)) if (req[k] === undefined) delete req[k];
  return req as VolumeTemplateItem;
}

/** `check`: auto-name, a source volume is required, and the API's verdict. */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>, opts: CheckOptions = {}): Promise<{ inputs: VolumeTemplateInputs; failures: CheckFailure[] }> {
  const old = olds ? resolveVolumeInputs<VolumeTemplateInputs>(olds) : undefined;
  const inputs = resolveName(old, resolveVolumeInputs<VolumeTemplateInputs>(news), opts);
  const raw = inputs as unknown as Record<string, unknown>;
  const failures = [...unknownInputFailures(raw, KNOWN_INPUTS), ...timeoutsFailures(raw.timeouts), ...triggersFailures(raw.triggers)];
  if (raw.sourceVolume === undefined) failures.push({ property: "sourceVolume", reason: "Missing 'sourceVolume': the name or uuid of the volume to freeze" });
  else failures.push(...schemaFailures(VolumeTemplateItemSchema, volumeTemplateRequest(raw), (f) => propertyOf(f, RENAMES)));
  failures.push(...connectionFailures());
  return { inputs, failures: uniqueFailures(failures) };
}

/** `diff`: replace or update by the tables above (docs/provider.md, "VolumeTemplate"). */
export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffAnswer> {
  return answerOf(await diffDetail(_id, olds, news));
}

/** `diff` naming the inputs updated in place too (the schema-based plugin's detailed diff). */
export async function diffDetail(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffDetail> {
  return diffByTable(upgradeVolumeOutputs(olds, "volume template"), resolveVolumeInputs(news), VOLUME_TEMPLATE_REPLACE_FIELDS, VOLUME_TEMPLATE_UPDATE_FIELDS);
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

/** `read`: the server's view and the inputs as they now stand; no id when the template is gone. */
export async function read(id: string, props?: Record<string, unknown>): Promise<{ id?: string; props?: VolumeTemplateOutputs; inputs?: Record<string, unknown> }> {
  return withClient((client) =>
    readVolumeResource(client, id, props, {
      endpoints: ENDPOINTS,
      outputs: volumeTemplateOutputs,
      kept: ["sourceVolume"],
      inputsFromServer: (v) => plain({ name: v.name, sourceVolume: v.clone?.source.name ?? null, tags: v.tags, deleteLock: v.delete_lock }),
    }),
  );
}

/** `update`: tags and delete lock. */
export async function update(id: string, _olds: Record<string, unknown>, news: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ outs: VolumeTemplateOutputs }> {
  const i = resolveVolumeInputs<VolumeTemplateInputs>(news);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).updateMs, opts));
  return withClient(async (client) => {
    try {
      const cur = await client.volumes.templates.get(id, { timeoutMs: deadline.remainingMs() });
      const ops = tagsAndLockOps(cur, i);
      const v = ops.length > 0 ? await client.volumes.templates.update(id, ops, { timeoutMs: deadline.remainingMs() }) : cur;
      return { outs: volumeTemplateOutputs(v, i) };
    } catch (err) {
      throw failure(`updating volume template '${i.name}'`, err);
    }
  });
}

/** `delete`: refused by the API while clones depend on it or while locked; already gone is fine. */
export async function remove(id: string, props: Record<string, unknown>, opts: OperationOptions = {}): Promise<void> {
  await withClient((client) => removeVolumeResource(client, id, props, ENDPOINTS, opts));
}
