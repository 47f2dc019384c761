/**
 * `vmbranch.GoldenImage`: a golden-image pipeline as one component. A preparation job (an
 * Instance with `waitForExit`) writes a fresh inline volume; a VolumeTemplate freezes it once the
 * job has exited 0; `clones` VolumeClones copy the template, and, when `instances` is given, one
 * Instance per clone mounts it. Each stage carries the previous stage's uuid in its `triggers`, so
 * a re-bake (the job's image, args or env changed, or the component's own `triggers`) is one
 * replace chain in the preview: job, template, clones, instances. The job's volume is inline and
 * unnamed, so the new job bakes into a new volume while the old chain still serves.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ReadinessInput } from "../impl/instance-model";
import type { TimeoutsInput } from "../impl/timeouts";
import { Instance, type PortArgs } from "./instance";
import { VolumeClone } from "./volume-clone";
import { VolumeTemplate } from "./volume-template";

/** The preparation job: runs once with the golden volume mounted, and must exit 0. */
export interface GoldenImageJobArgs {
  /** Guest image (default `base`). */
  image?: pulumi.Input<string>;
  /** The job's main process and its arguments; it writes the volume under `mountAt`. */
  args: pulumi.Input<pulumi.Input<string>[]>;
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  memoryMb?: pulumi.Input<number>;
  vcpus?: pulumi.Input<number>;
  /** Where the job sees the golden volume (default `/data`). */
  mountAt?: pulumi.Input<string>;
  /** Deadlines of the job; `create` covers its whole run (default 5m). */
  timeouts?: pulumi.Input<TimeoutsInput>;
}

/** The instances made from the clones, one per clone. */
export interface GoldenImageInstanceArgs {
  /** Guest image (default `base`). */
  image?: pulumi.Input<string>;
  args?: pulumi.Input<pulumi.Input<string>[]>;
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  memoryMb?: pulumi.Input<number>;
  vcpus?: pulumi.Input<number>;
  /** Where each instance sees its clone (default `/data`). */
  mountAt?: pulumi.Input<string>;
  /** Mount the clone read-only. */
  readonly?: pulumi.Input<boolean>;
  ports?: pulumi.Input<pulumi.Input<PortArgs>[]>;
  readiness?: pulumi.Input<ReadinessInput>;
  state?: pulumi.Input<"running" | "stopped" | "standby">;
  annotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  timeouts?: pulumi.Input<TimeoutsInput>;
}

/** The arguments of a GoldenImage. */
export interface GoldenImageArgs {
  /** Size of the golden volume in MiB (ext4), which the job writes. */
  sizeMb: pulumi.Input<number>;
  /** The preparation job. */
  prepare: GoldenImageJobArgs;
  /** How many clones of the template (default 0). A plain number: it decides how many resources the program declares. */
  clones?: number;
  /** One instance per clone, with the clone mounted; leave out for clones only. */
  instances?: GoldenImageInstanceArgs;
  /** Tags on every resource of the pipeline. */
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  /** Any values: when one changes, the image is baked again (a new job, template, clones and instances). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any values, like Pulumi's own `triggers` inputs
  triggers?: pulumi.Input<any[]>;
}

const DEFAULT_MOUNT = "/data";

/** A golden-image pipeline: preparation job → volume template → clones → optional instances. */
export class GoldenImage extends pulumi.ComponentResource {
  /** The preparation job (stopped after it succeeded; its volume is the template's source). */
  readonly job: Instance;
  readonly template: VolumeTemplate;
  readonly clones: VolumeClone[];
  /** One per clone when `instances` was given, else none. */
  readonly instances: Instance[];
  /** The template's API name (to clone it elsewhere). */
  readonly templateName: pulumi.Output<string>;
  /** The clones' API names, in order. */
  readonly cloneNames: pulumi.Output<string[]>;

  /** Declare the pipeline; its resources are named `<name>-prepare`, `<name>-template`, `<name>-clone-<i>`, `<name>-<i>`. */
  constructor(name: string, args: GoldenImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmbranch:index:GoldenImage", name, {}, opts);
    const child = { parent: this };
    const jobMount = args.prepare.mountAt ?? DEFAULT_MOUNT;
    this.job = new Instance(
      `${name}-prepare`,
      {
        image: args.prepare.image ?? "base",
        args: args.prepare.args,
        env: args.prepare.env,
        memoryMb: args.prepare.memoryMb,
        vcpus: args.prepare.vcpus,
        volumes: [{ sizeMb: args.sizeMb, at: jobMount }],
        waitForExit: true,
        timeouts: args.prepare.timeouts,
        tags: args.tags,
        triggers: args.triggers,
      },
      child,
    );
    // The job's inline volume: the server names it when the job is created.
    const goldenVolume = pulumi.all([this.job.attachedVolumes, jobMount]).apply(([volumes, at]) => {
      const found = volumes.find((v) => v.inline && v.at === at);
      if (!found) throw new Error(`GoldenImage '${name}': the preparation job has no volume at '${at}'`);
      return found.name;
    });
    this.template = new VolumeTemplate(`${name}-template`, { sourceVolume: goldenVolume, tags: args.tags, triggers: [this.job.uuid] }, child);
    this.clones = [];
    this.instances = [];
    for (let i = 0; i < (args.clones ?? 0); i++) {
      const clone = new VolumeClone(`${name}-clone-${i}`, { source: this.template.name, tags: args.tags, triggers: [this.template.uuid] }, child);
      this.clones.push(clone);
      const inst = args.instances;
      if (!inst) continue;
      this.instances.push(
        new Instance(
          `${name}-${i}`,
          {
            image: inst.image ?? "base",
            args: inst.args,
            env: inst.env,
            memoryMb: inst.memoryMb,
            vcpus: inst.vcpus,
            volumes: [{ volume: clone.name, at: inst.mountAt ?? DEFAULT_MOUNT, readonly: inst.readonly }],
            ports: inst.ports,
            readiness: inst.readiness,
            state: inst.state,
            annotations: inst.annotations,
            timeouts: inst.timeouts,
            tags: args.tags,
            triggers: [clone.uuid],
          },
          child,
        ),
      );
    }
    this.templateName = this.template.name;
    this.cloneNames = pulumi.all(this.clones.map((c) => c.name));
    this.registerOutputs({ templateName: this.templateName, cloneNames: this.cloneNames });
  }
}
