/**
 * What may change on instance templates and checkpoints after they are made (Unikraft Cloud's
 * `PATCH /v1/instances/templates` and `/checkpoints`): tags, the delete lock and the delete-on-idle
 * policy, and their last use, which that policy counts from. Conversion and deletion of templates
 * stay in instance-templates.ts; checkpoints.ts uses the same plan for its PATCH.
 */
import type { Instance, InstanceTemplateCreateItem, TemplatePatchOp } from "vmbranch/sdk";
import type { InstanceRecord } from "../store/records";
import type { Autokill } from "./autokill";
import type { ItemResult } from "./bulk";
import type { CoreContext } from "./context";
import { ApiError } from "./errors";
import { requireHostOnline } from "./hosts";
import { now } from "./identity";
import type { InstanceTemplates } from "./instance-templates";
import type { Instances } from "./instances";
import { instanceKey } from "./locks";
import { patchTags, requireInstanceTemplate } from "./lookup";

/** The fields `ops` change on `rec`, checked in order; nothing is written. */
export function planTemplatePatch(rec: InstanceRecord, ops: readonly TemplatePatchOp[]): Pick<InstanceRecord, "tags" | "deleteLock" | "autokillMs"> {
  let tags = rec.tags;
  let deleteLock = rec.deleteLock;
  let autokillMs = rec.autokillMs ?? null;
  for (const op of ops) {
    if (op.prop === "tags") {
      tags = patchTags(tags, op.op, op.value);
      if (tags.length > 16) throw new ApiError("VALIDATION_FAILED", "'tags': at most 16 tags", "tags");
    } else if (op.prop === "delete_lock") deleteLock = op.value;
    else autokillMs = op.value.time_ms > 0 ? op.value.time_ms : null;
  }
  return { tags, deleteLock, autokillMs };
}

/** Updates of instance templates. */
export class TemplateUpdates {
  constructor(
    private readonly ctx: CoreContext,
    private readonly instances: Instances,
    private readonly templates: InstanceTemplates,
    private readonly autokill: Autokill,
  ) {}

  /** `POST /v1/instances/templates`: convert each item, then give it its delete-on-idle policy. */
  async create(items: InstanceTemplateCreateItem[]): Promise<ItemResult<Instance>[]> {
    const results = await this.templates.create(items);
    results.forEach((r, i) => {
      const ms = items[i]!.autokill?.time_ms;
      if (!r.ok || !ms) return;
      this.ctx.store.instances.update({ uuid: r.value!.uuid }, { autokillMs: ms, lastUsedAt: now() });
      this.autokill.schedule(r.value!.uuid);
      r.value = this.instances.view(this.ctx.store.instances.get({ uuid: r.value!.uuid })!);
    });
    return results;
  }

  /** `PATCH /v1/instances/templates/{id}`: tags, delete lock, delete-on-idle policy. */
  async patch(id: string, ops: readonly TemplatePatchOp[]): Promise<Instance> {
    const found = requireInstanceTemplate(this.ctx.store, id);
    return this.ctx.locks.with([instanceKey(found.uuid)], async () => {
      const rec = requireInstanceTemplate(this.ctx.store, found.uuid);
      requireHostOnline(this.ctx.store, rec);
      const changes = planTemplatePatch(rec, ops);
      this.ctx.store.instances.update({ uuid: rec.uuid }, { ...changes, lastUsedAt: rec.lastUsedAt ?? now() });
      this.autokill.schedule(rec.uuid);
      return this.instances.view(this.ctx.store.instances.get({ uuid: rec.uuid })!);
    });
  }

  /** An instance was made from template `uuid`: its idle period starts again. */
  used(uuid: string): void {
    this.ctx.store.instances.update({ uuid }, { lastUsedAt: now() });
    this.autokill.schedule(uuid);
  }

  /** Autokill of a template: deleted unless locked or still needed by its instances' volumes. */
  async expire(rec: InstanceRecord): Promise<boolean> {
    if (rec.deleteLock) return false;
    try {
      await this.templates.delete(rec.uuid);
      return true;
    } catch (err) {
      if (ApiError.is(err) && (err.code === "VOLUME_HAS_CLONES" || err.code === "DELETE_LOCKED")) return false;
      throw err;
    }
  }
}
