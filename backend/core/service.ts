/**
 * The backend's core, assembled: one object holding every service, the create dispatch
 * (image, template or branch), and start-up reconciliation. backend/api calls only this.
 */
import type { Instance, InstanceCreateRequest } from "vmbranch/sdk";
import { Branches } from "./branches";
import type { CoreContext } from "./context";
import { InstanceTemplates } from "./instance-templates";
import { Instances } from "./instances";
import { Runtime } from "./runtime";
import { Snapshots } from "./snapshots";
import { VolumeClones } from "./volume-clones";
import { Volumes } from "./volumes";

/** All core services over one context. */
export class Core {
  readonly runtime: Runtime;
  readonly volumes: Volumes;
  readonly snapshots: Snapshots;
  readonly instances: Instances;
  readonly branches: Branches;
  readonly templates: InstanceTemplates;
  readonly clones: VolumeClones;

  constructor(readonly ctx: CoreContext) {
    this.runtime = new Runtime(ctx);
    this.volumes = new Volumes(ctx);
    this.snapshots = new Snapshots(ctx, this.runtime, this.volumes.disks);
    this.instances = new Instances(ctx, this.runtime, this.volumes, this.snapshots);
    this.branches = new Branches(ctx, this.instances, this.volumes, this.snapshots);
    this.templates = new InstanceTemplates(ctx, this.instances, this.volumes, this.snapshots);
    this.clones = new VolumeClones(ctx, this.volumes, this.snapshots);
  }

  /** `POST /v1/instances`: from a branch source, a template, or an image. The request is already schema-valid. */
  createInstance(req: InstanceCreateRequest): Promise<Instance> {
    if (req.branch_from) return this.branches.create(req);
    if (req.template) return this.templates.instantiate(req);
    return this.instances.createFromImage(req);
  }

  /** Reattach to VMs that survived a restart and record those that did not. */
  async start(): Promise<void> {
    await this.runtime.reconcile();
    await this.recoverInterrupted();
  }

  /** Clones left `pending` by a restart failed; say so instead of leaving them pending forever. */
  private async recoverInterrupted(): Promise<void> {
    const store = this.ctx.store;
    for (const v of store.volumes.select("state = 'pending'"))
      store.volumes.update({ uuid: v.uuid }, { state: "error", error: "clone interrupted by a restart of vmbranch" });
    for (const s of store.snapshots.select("state = 'pending' AND purpose = 'branch'")) await this.snapshots.release(s.uuid);
  }
}
