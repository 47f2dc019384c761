/**
 * The golden-image pipeline, declared once for both providers: a preparation job (an Instance with
 * `waitForExit`) writes a fresh inline volume; a VolumeTemplate freezes it once the job has exited
 * 0; `clones` VolumeClones copy the template, and, when `instances` is given, one Instance per
 * clone mounts it. Each stage carries the previous stage's uuid in its `triggers`, so a re-bake
 * (the job's image, args or env changed, or the component's own `triggers`) is one replace chain in
 * the preview: job, template, clones, instances. The job's volume is inline and unnamed, so the new
 * job bakes into a new volume while the old chain still serves.
 *
 * Which resource classes the stages are is the caller's (`PipelineKinds`): the dynamic resources
 * for `GoldenImage` (provider/resources/golden-image.ts), the plugin's `vmbranch:index:*` custom
 * resources for its `Construct` (provider/plugin/construct.ts). So this module loads nothing of the
 * dynamic provider, and only the output helpers of `@pulumi/pulumi` (the plugin bundles it).
 */
import { all, Output, type Input } from "@pulumi/pulumi/output";
import type { CustomResourceOptions, Resource } from "@pulumi/pulumi/resource";
import type { ReadinessInput } from "../impl/instance-model";
import type { TimeoutsInput } from "../impl/timeouts";
import type { InstanceArgs, PortArgs } from "./instance";
import type { VolumeCloneArgs } from "./volume-clone";
import type { VolumeTemplateArgs } from "./volume-template";

/** The preparation job: runs once with the golden volume mounted, and must exit 0. */
export interface GoldenImageJobArgs {
  /** Guest image (default `base`). */
  image?: Input<string>;
  /** The job's main process and its arguments; it writes the volume under `mountAt`. */
  args: Input<Input<string>[]>;
  env?: Input<Record<string, Input<string>>>;
  memoryMb?: Input<number>;
  vcpus?: Input<number>;
  /** Where the job sees the golden volume (default `/data`). */
  mountAt?: Input<string>;
  /** Deadlines of the job; `create` covers its whole run (default 5m). */
  timeouts?: Input<TimeoutsInput>;
}

/** The instances made from the clones, one per clone. */
export interface GoldenImageInstanceArgs {
  /** Guest image (default `base`). */
  image?: Input<string>;
  args?: Input<Input<string>[]>;
  env?: Input<Record<string, Input<string>>>;
  memoryMb?: Input<number>;
  vcpus?: Input<number>;
  /** Where each instance sees its clone (default `/data`). */
  mountAt?: Input<string>;
  /** Mount the clone read-only. */
  readonly?: Input<boolean>;
  ports?: Input<Input<PortArgs>[]>;
  readiness?: Input<ReadinessInput>;
  state?: Input<"running" | "stopped" | "standby">;
  annotations?: Input<Record<string, Input<string>>>;
  timeouts?: Input<TimeoutsInput>;
}

/** The arguments of a GoldenImage. */
export interface GoldenImageArgs {
  /** Size of the golden volume in MiB (ext4), which the job writes. */
  sizeMb: Input<number>;
  /** The preparation job. */
  prepare: GoldenImageJobArgs;
  /** How many clones of the template (default 0). A plain number: it decides how many resources the program declares. */
  clones?: number;
  /** One instance per clone, with the clone mounted; leave out for clones only. */
  instances?: GoldenImageInstanceArgs;
  /** Tags on every resource of the pipeline. */
  tags?: Input<Input<string>[]>;
  /** Any values: when one changes, the image is baked again (a new job, template, clones and instances). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any values, like Pulumi's own `triggers` inputs
  triggers?: Input<any[]>;
}

/** What the pipeline reads of its stages: the outputs every vmbranch resource has. */
export interface PipelineStage extends Resource {
  readonly name: Output<string>;
  readonly uuid: Output<string>;
}

/** What it reads of the job: where its inline volume went. */
export interface PipelineJob extends PipelineStage {
  readonly attachedVolumes: Output<{ name: string; at: string; inline: boolean }[]>;
}

/** The resource classes of the stages, as `new` would be called on them (the arguments are the same for both providers). */
export interface PipelineKinds<I extends PipelineJob, T extends PipelineStage, C extends PipelineStage> {
  instance(name: string, args: InstanceArgs, opts: CustomResourceOptions): I;
  template(name: string, args: VolumeTemplateArgs, opts: CustomResourceOptions): T;
  clone(name: string, args: VolumeCloneArgs, opts: CustomResourceOptions): C;
}

/** The declared pipeline. */
export interface Pipeline<I, T, C> {
  job: I;
  template: T;
  clones: C[];
  /** One per clone when `instances` was given, else none. */
  instances: I[];
  /** The job's inline volume, which the template froze. */
  goldenVolume: Output<string>;
}

const DEFAULT_MOUNT = "/data";
const DEFAULT_IMAGE = "base";

/** `value`, or `fallback` where it is absent (also when it arrives as an Output, as the plugin's inputs may). */
function orDefault<T>(value: Input<T> | undefined, fallback: T): Input<T> {
  if (Output.isInstance(value)) return (value as Output<T | undefined>).apply((v) => v ?? fallback);
  return value ?? fallback;
}

/**
 * Declare the pipeline under `parent`; its resources are named `<name>-prepare`,
 * `<name>-template`, `<name>-clone-<i>`, `<name>-<i>`.
 */
export function declareGoldenImage<I extends PipelineJob, T extends PipelineStage, C extends PipelineStage>(
  name: string,
  args: GoldenImageArgs,
  kinds: PipelineKinds<I, T, C>,
  parent: Resource,
): Pipeline<I, T, C> {
  const child = { parent };
  const jobMount = orDefault(args.prepare.mountAt, DEFAULT_MOUNT);
  const job = kinds.instance(
    `${name}-prepare`,
    {
      image: orDefault(args.prepare.image, DEFAULT_IMAGE),
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
  const goldenVolume = all([job.attachedVolumes, jobMount]).apply(([volumes, at]) => {
    const found = volumes.find((v) => v.inline && v.at === at);
    if (!found) throw new Error(`GoldenImage '${name}': the preparation job has no volume at '${at}'`);
    return found.name;
  });
  const template = kinds.template(`${name}-template`, { sourceVolume: goldenVolume, tags: args.tags, triggers: [job.uuid] }, child);
  const clones: C[] = [];
  const instances: I[] = [];
  for (let i = 0; i < (args.clones ?? 0); i++) {
    const clone = kinds.clone(`${name}-clone-${i}`, { source: template.name, tags: args.tags, triggers: [template.uuid] }, child);
    clones.push(clone);
    const inst = args.instances;
    if (!inst) continue;
    instances.push(
      kinds.instance(
        `${name}-${i}`,
        {
          image: orDefault(inst.image, DEFAULT_IMAGE),
          args: inst.args,
          env: inst.env,
          memoryMb: inst.memoryMb,
          vcpus: inst.vcpus,
          volumes: [{ volume: clone.name, at: orDefault(inst.mountAt, DEFAULT_MOUNT), readonly: inst.readonly }],
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
  return { job, template, clones, instances, goldenVolume };
}
