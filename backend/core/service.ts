/**
 * The backend's core, assembled: one object holding every service, the create dispatch
 * (image, template or branch), and start-up reconciliation. backend/api calls only this.
 */
import type { Instance, InstanceCreateRequest } from "vmbranch/sdk";
import { Autokill } from "./autokill";
import { Branches } from "./branches";
import { Checkpoints } from "./checkpoints";
import type { CoreContext } from "./context";
import { History } from "./history";
import { Hosts } from "./hosts";
import { InstanceActions, waitSeconds } from "./instance-actions";
import { placeInstance } from "./instance-placement";
import { InstanceTemplates } from "./instance-templates";
import { Instances } from "./instances";
import { Doctor } from "./doctor";
import { findAnyInstance } from "./lookup";
import { Journal } from "./journal";
import { Metrics } from "./metrics";
import { Recovery } from "./recovery";
import { Runtime } from "./runtime";
import { ServiceFigures } from "./service-figures";
import { Snapshots } from "./snapshots";
import { TemplateUpdates } from "./template-updates";
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
  readonly history: History;
  readonly autokill: Autokill;
  readonly checkpoints: Checkpoints;
  readonly templateUpdates: TemplateUpdates;
  readonly actions: InstanceActions;
  readonly metrics: Metrics;
  readonly figures: ServiceFigures;
  readonly recovery: Recovery;
  readonly doctor: Doctor;
  readonly hosts: Hosts;

  constructor(readonly ctx: CoreContext) {
    this.runtime = new Runtime(ctx);
    this.volumes = new Volumes(ctx);
    this.snapshots = new Snapshots(ctx, this.runtime, this.volumes.disks);
    this.instances = new Instances(ctx, this.runtime, this.volumes, this.snapshots);
    this.branches = new Branches(ctx, this.instances, this.volumes, this.snapshots);
    this.templates = new InstanceTemplates(ctx, this.instances, this.volumes, this.snapshots);
    this.clones = new VolumeClones(ctx, this.volumes, this.snapshots);
    this.history = new History(ctx.store);
    this.autokill = new Autokill(ctx, (uuid) => this.expire(uuid));
    this.checkpoints = new Checkpoints(ctx, this.instances, this.volumes, this.snapshots, this.history, this.autokill);
    this.templateUpdates = new TemplateUpdates(ctx, this.instances, this.templates, this.autokill);
    this.actions = new InstanceActions(ctx, this.instances);
    this.metrics = new Metrics(ctx, this.runtime);
    this.figures = new ServiceFigures(ctx);
    this.recovery = new Recovery(ctx, this.runtime, this.volumes.disks, this.snapshots);
    this.doctor = new Doctor(ctx, this.runtime, this.volumes.disks, this.snapshots);
    this.hosts = new Hosts(ctx);
  }

  /**
   * `POST /v1/instances`: from a branch source (`count` branches), a template, a checkpoint or an
   * image. The request is already schema-valid. With `timeout_s`, answers once they run.
   */
  async createInstances(request: InstanceCreateRequest): Promise<Instance[]> {
    // Decided before anything is made, so a refused placement leaves nothing behind.
    const req = { ...request, host: placeInstance(this.ctx, request) };
    let made: Instance[];
    if (req.branch_from) made = await this.branches.create(req);
    else if (req.checkpoint) made = [await this.checkpoints.load(req)];
    else if (req.template) {
      const inst = await this.templates.instantiate(req);
      this.templateUpdates.used(inst.template!.uuid);
      made = [inst];
    } else made = [await this.instances.createFromImage(req)];
    const seconds = waitSeconds(req.timeout_s, req.wait_timeout_ms, 0);
    return Promise.all(made.map((inst) => this.actions.untilRunning(inst, seconds)));
  }

  /** Delete-on-idle of a template or checkpoint that is due; false when it is kept. */
  private async expire(uuid: string): Promise<boolean> {
    const rec = findAnyInstance(this.ctx.store, uuid);
    if (!rec) return true;
    if (rec.checkpoint) return this.checkpoints.expire(rec);
    if (rec.isTemplate) return this.templateUpdates.expire(rec);
    return true;
  }

  /**
   * Reattach to VMs that survived a restart (resuming those a dead serve paused), settle the
   * operations it left open, and sweep what it left behind.
   */
  async start(): Promise<void> {
    // First: rows from before hosts existed are this host's before anything reads them.
    await this.hosts.start();
    this.runtime.recordLegacyMachines();
    const suspending = new Journal(this.ctx).openEntries().filter((e) => e.kind === "suspend").map((e) => e.subject);
    await this.runtime.reconcile(new Set(suspending));
    await this.recovery.run();
    await this.recoverInterrupted();
    await this.checkpoints.recover();
    // What a dead serve left (loaders, orphan files, mounts, scratch directories) goes now.
    const swept = await this.doctor.repair();
    if (swept.findings.length > 0) this.ctx.log.warn({ findings: swept.findings }, "doctor: disagreements left for the operator");
    this.autokill.armAll();
  }

  /** Let go of everything but the VMs, which outlive the service. */
  close(): void {
    this.hosts.close();
    this.autokill.close();
    this.runtime.detachAll();
  }

  /**
   * Clones left `pending` by a restart failed; say so instead of leaving them pending forever. A
   * branch's snapshot is released once its branch is restored; a dead serve restored none of those
   * in flight (they are in error now), so every branch snapshot no instance names goes, pending or
   * complete, with its files (on another host a copy sent there is named by no row: the repair
   * that follows removes it).
   */
  private async recoverInterrupted(): Promise<void> {
    const store = this.ctx.store;
    for (const v of store.volumes.pending())
      store.volumes.update({ uuid: v.uuid }, { state: "error", error: "clone interrupted by a restart of vmbranch" });
    for (const s of store.snapshots.branchSnapshots()) await this.snapshots.release(s.uuid);
  }
}
