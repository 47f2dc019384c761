/**
 * Instance templates: a stopped or standby instance converted into a template, its volumes
 * turned into volume templates in the same transaction (docs/api.md, "Instance templates"); and
 * instances created from a template, whose volumes are copy-on-write clones of the template's.
 * A template that holds memory (made from standby) starts its instances warm, all mapping one
 * RAM image copy-on-write.
 */
import type { Instance, InstanceCreateRequest, Ref } from "vmbranch/sdk";
import type { CoreContext } from "./context";
import { failpoint } from "../host/failpoints";
import { ApiError } from "./errors";
import { requireHostOnline } from "./hosts";
import { generateName, newUuid } from "./identity";
import { instanceFromSource } from "./instance-records";
import type { Instances } from "./instances";
import { instanceKey, volumeKey } from "./locks";
import { refId, requireInstance, requireInstanceTemplate } from "./lookup";
import { portSpecsFrom } from "./ports";
import type { Snapshots } from "./snapshots";
import { perItem, type ItemResult } from "./bulk";
import type { Volumes } from "./volumes";

/** Instance template operations. */
export class InstanceTemplates {
  constructor(
    private readonly ctx: CoreContext,
    private readonly instances: Instances,
    private readonly volumes: Volumes,
    private readonly snapshots: Snapshots,
  ) {}

  /** `POST /v1/instances/templates`: convert each instance into a template, item by item. */
  create(refs: Ref[]): Promise<ItemResult<Instance>[]> {
    return perItem(refs, (ref) => this.convert(refId(ref)));
  }

  private async convert(id: string): Promise<Instance> {
    const store = this.ctx.store;
    const found = requireInstance(store, id);
    // With its volumes' locks: their heads become frozen layers, which no clone may be freezing meanwhile.
    const volumes = () => store.attachments.ofInstance(found.uuid).map((a) => volumeKey(a.volumeUuid));
    return this.ctx.locks.withChecked(() => [instanceKey(found.uuid), ...volumes()], async () => {
      const inst = store.instances.get({ uuid: found.uuid })!;
      requireHostOnline(store, inst);
      if (inst.state !== "stopped" && inst.state !== "standby")
        throw new ApiError("INVALID_STATE", `Cannot convert instance '${inst.name}' in state '${inst.state}' into a template: stop or suspend it first`);
      const atts = store.attachments.ofInstance(inst.uuid);
      const vols = atts.map((a) => store.volumes.get({ uuid: a.volumeUuid })!);
      const managed = vols.find((v) => v.kind === "managed");
      if (managed) throw new ApiError("TEMPLATE_MANAGED_VOLUME", `Cannot convert instance '${inst.name}' into a template: managed volume '${managed.name}' cannot become a template`);
      for (const v of vols) {
        const others = this.volumes.attachmentsOf(v.uuid).filter((a) => a.instanceUuid !== inst.uuid);
        if (others.length > 0)
          throw new ApiError("VOLUME_IN_USE", `Cannot convert instance '${inst.name}' into a template: volume '${v.name}' is also attached to ${others.map((o) => `'${o.instanceName}'`).join(", ")}`);
      }
      await failpoint("template.before-instance-commit");
      // One transaction: the instance and all its volumes become templates together, or none does.
      store.tx(() => {
        for (const v of vols) {
          store.disks.update({ id: v.headDisk! }, { frozen: true });
          // The flag alone: the volume's state stays available.
          store.volumes.update({ uuid: v.uuid }, { isTemplate: true, ownerUuid: inst.uuid });
        }
        if (inst.snapshotUuid) store.snapshots.update({ uuid: inst.snapshotUuid }, { purpose: "template" });
        // The flag alone: the state stays stopped or standby; the store records the conversion as a transition to 'template'.
        store.instances.update({ uuid: inst.uuid }, { isTemplate: true });
      });
      this.ctx.events.emit("instance", inst.uuid, "template");
      this.ctx.log.info({ instance: inst.uuid, name: inst.name, volumes: vols.length }, "instance converted into a template");
      return this.instances.view(store.instances.get({ uuid: inst.uuid })!);
    });
  }

  /** `GET /v1/instances/templates/{id}`. */
  get(id: string): Instance {
    return this.instances.view(requireInstanceTemplate(this.ctx.store, id));
  }

  /** `DELETE /v1/instances/templates/{id}`: refused while instances created from it still use its volumes. */
  async delete(id: string): Promise<Instance> {
    const store = this.ctx.store;
    const found = requireInstanceTemplate(store, id);
    return this.ctx.locks.with([instanceKey(found.uuid)], async () => {
      const tpl = store.instances.get({ uuid: found.uuid })!;
      requireHostOnline(store, tpl);
      if (tpl.deleteLock) throw new ApiError("DELETE_LOCKED", `Instance template '${tpl.name}' has a delete lock; unset it with PATCH delete_lock first`);
      const vols = store.attachments.ofInstance(tpl.uuid).map((a) => store.volumes.get({ uuid: a.volumeUuid })!);
      for (const v of vols) this.volumes.checkNoActiveClones(v);
      const view = { ...this.instances.view(tpl), state: "deleted" as const };
      // Its own volumes go with it in one transaction: none outlives it, whatever follows.
      const owned = vols.filter((v) => v.ownerUuid === tpl.uuid || !v.persistent);
      store.tx(() => {
        store.instances.remove(tpl.uuid);
        for (const v of owned) store.volumes.remove(v.uuid);
      });
      for (const v of owned) await this.volumes.releaseData(v);
      if (tpl.snapshotUuid) await this.snapshots.release(tpl.snapshotUuid);
      // The run directory of the instance it was (its console log) goes too, as an instance's does.
      await this.instances.runtime.cleanup(tpl.uuid, tpl.host);
      return view;
    });
  }

  /** `POST /v1/instances {template}`: an instance with clones of the template's volumes, warm when it holds memory. */
  async instantiate(req: InstanceCreateRequest): Promise<Instance> {
    const store = this.ctx.store;
    const tpl = requireInstanceTemplate(store, refId(req.template!));
    const snapshot = tpl.snapshotUuid ? store.snapshots.get({ uuid: tpl.snapshotUuid }) : null;
    const warm = snapshot !== null && snapshot.hasMemory;
    if (snapshot) this.instances.runtime.requireRestorable(snapshot, req.host ?? tpl.host);
    if (warm && (req.volumes?.length ?? 0) > 0)
      throw new ApiError("VALIDATION_FAILED", `Cannot add volumes to an instance of template '${tpl.name}': it starts from a memory snapshot whose devices are fixed`, "volumes");
    const name = req.name ?? generateName(tpl.name.slice(0, 40));
    this.instances.checkNameFree(name);
    const rec = instanceFromSource(tpl, req, name, warm, { template: { uuid: tpl.uuid, name: tpl.name } });
    const tplAtts = store.attachments.ofInstance(tpl.uuid);
    return this.instances.createWith(
      rec,
      warm ? [] : (req.volumes ?? []),
      // The request's own ports replace the template's; otherwise its guest ports get new host ports.
      req.ports ?? portSpecsFrom(store.ports.ofInstance(tpl.uuid)),
      async (rev, r) => {
        for (const a of tplAtts) {
          const v = store.volumes.get({ uuid: a.volumeUuid })!;
          const clone = await this.volumes.cloneRecord(rev, {
            sourceUuid: v.uuid, sourceName: v.name, frozenDisk: v.headDisk!, sizeMb: v.sizeMb, filesystem: v.filesystem,
            name: `${r.name}-${v.name.slice(0, 20)}-${newUuid().slice(0, 5)}`.slice(0, 63), owner: r.uuid, templateUuid: v.uuid,
          });
          this.volumes.attachRecordUnchecked(clone.uuid, r.uuid, a.at, a.readonly, a.position);
        }
      },
      async (r) => {
        if (!r.autostart) return;
        await this.instances.runtime.start(r, warm ? { kind: "snapshot", snapshot: snapshot!, vmgenid: newUuid() } : { kind: "boot" });
      },
    );
  }
}
