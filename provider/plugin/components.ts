/**
 * The plugin's component resources, which its `Construct` declares (provider/plugin/construct.ts):
 * `vmbranch:index:GoldenImage`, the golden-image pipeline of provider/resources/golden-image-pipeline.ts
 * declared with the plugin's own resources. Its children are custom resources of the package
 * (`vmbranch:index:Instance`, `VolumeTemplate`, `VolumeClone`), registered with the component as
 * parent, so the engine diffs, creates and replaces them through this plugin exactly as when a
 * program declares them itself. Owns the table of components and what each reports.
 */
import { all, Output, type Input, type Inputs } from "@pulumi/pulumi/output";
import { ComponentResource, CustomResource, type ComponentResourceOptions, type CustomResourceOptions } from "@pulumi/pulumi/resource";
import { declareGoldenImage, type GoldenImageArgs, type PipelineJob } from "../resources/golden-image-pipeline";
import { valueOf } from "./pulumi-runtime";
import checkedInSchema from "./schema.json";

/** The token of the GoldenImage component. */
export const GOLDEN_IMAGE = "vmbranch:index:GoldenImage";

const RESOURCE_PROPERTIES = checkedInSchema.resources as Record<string, { properties: Record<string, unknown> }>;

/** A resource of this package declared from inside the plugin: every property of the schema is an output. */
class PackageResource extends CustomResource implements PipelineJob {
  declare readonly name: Output<string>;
  declare readonly uuid: Output<string>;
  declare readonly attachedVolumes: Output<{ name: string; at: string; inline: boolean }[]>;

  constructor(token: string, name: string, args: object, opts: CustomResourceOptions) {
    const outputs = Object.fromEntries(Object.keys(RESOURCE_PROPERTIES[token]?.properties ?? {}).map((k) => [k, undefined]));
    super(token, name, { ...outputs, ...args }, opts);
  }
}

const PACKAGE_KINDS = {
  instance: (name: string, args: object, opts: CustomResourceOptions) => new PackageResource("vmbranch:index:Instance", name, args, opts),
  template: (name: string, args: object, opts: CustomResourceOptions) => new PackageResource("vmbranch:index:VolumeTemplate", name, args, opts),
  clone: (name: string, args: object, opts: CustomResourceOptions) => new PackageResource("vmbranch:index:VolumeClone", name, args, opts),
};

/** The outputs of a GoldenImage, by name (the schema's `properties` of the component, provider/plugin/schema.ts). */
export const GOLDEN_IMAGE_OUTPUTS = [
  "job",
  "template",
  "volumeClones",
  "cloneInstances",
  "jobName",
  "jobUuid",
  "goldenVolume",
  "templateName",
  "templateUuid",
  "cloneNames",
  "cloneUuids",
  "instanceNames",
  "instanceUuids",
] as const;

/**
 * An object input as the pipeline reads it: its fields one by one. The engine hands a nested
 * object that carries dependencies or secrets over as one Output; each field becomes an Output of it.
 */
function fieldsOf<T extends object>(value: Input<T> | undefined, keys: readonly (keyof T)[]): T | undefined {
  if (!Output.isInstance(value)) return value as T | undefined;
  const whole = value as Output<T | undefined>;
  return Object.fromEntries(keys.map((k) => [k, whole.apply((v) => v?.[k])])) as T;
}

const JOB_FIELDS = ["image", "args", "env", "memoryMb", "vcpus", "mountAt", "timeouts"] as const;
const INSTANCE_FIELDS = ["image", "args", "env", "memoryMb", "vcpus", "mountAt", "readonly", "ports", "readiness", "state", "annotations", "timeouts"] as const;

/** The GoldenImage's arguments from the engine's inputs; `clones` must be a known number, since it decides how many resources there are. */
async function goldenImageArgs(inputs: Inputs): Promise<GoldenImageArgs> {
  const clones = Output.isInstance(inputs.clones) ? await valueOf(inputs.clones as Output<unknown>) : inputs.clones;
  if (clones !== undefined && clones !== null && (typeof clones !== "number" || !Number.isInteger(clones) || clones < 0)) {
    throw new Error(`GoldenImage: clones must be a known whole number (it decides how many resources the pipeline has), got ${JSON.stringify(clones ?? "an unknown value")}`);
  }
  if (inputs.prepare === undefined || inputs.prepare === null) throw new Error("GoldenImage: prepare (the preparation job) is required");
  return {
    sizeMb: inputs.sizeMb as Input<number>,
    prepare: fieldsOf(inputs.prepare as Input<GoldenImageArgs["prepare"]>, JOB_FIELDS)!,
    clones: (clones as number | undefined | null) ?? undefined,
    instances: fieldsOf(inputs.instances as Input<NonNullable<GoldenImageArgs["instances"]>> | undefined, INSTANCE_FIELDS),
    tags: inputs.tags as GoldenImageArgs["tags"],
    triggers: inputs.triggers as GoldenImageArgs["triggers"],
  };
}

/** `vmbranch:index:GoldenImage` as the plugin declares it: the pipeline of package resources, and its outputs. */
class GoldenImage extends ComponentResource {
  readonly outputs: Record<(typeof GOLDEN_IMAGE_OUTPUTS)[number], unknown>;

  constructor(name: string, args: GoldenImageArgs, opts: ComponentResourceOptions) {
    super(GOLDEN_IMAGE, name, {}, opts);
    const p = declareGoldenImage(name, args, PACKAGE_KINDS, this);
    this.outputs = {
      job: p.job,
      template: p.template,
      volumeClones: p.clones,
      cloneInstances: p.instances,
      jobName: p.job.name,
      jobUuid: p.job.uuid,
      goldenVolume: p.goldenVolume,
      templateName: p.template.name,
      templateUuid: p.template.uuid,
      cloneNames: all(p.clones.map((c) => c.name)),
      cloneUuids: all(p.clones.map((c) => c.uuid)),
      instanceNames: all(p.instances.map((i) => i.name)),
      instanceUuids: all(p.instances.map((i) => i.uuid)),
    };
    this.registerOutputs(this.outputs);
  }
}

/** A component constructed: the resource and the outputs to answer with. */
export interface Constructed {
  resource: ComponentResource;
  state: Inputs;
}

/** Throw unless the package has component `type`. */
export function requireComponent(type: string): void {
  if (type !== GOLDEN_IMAGE) throw new Error(`vmbranch: unknown component type '${type}' (the package has ${GOLDEN_IMAGE})`);
}

/** Declare component `type` named `name`; throws for a type the package does not have. */
export async function constructComponent(type: string, name: string, inputs: Inputs, opts: ComponentResourceOptions): Promise<Constructed> {
  requireComponent(type);
  const component = new GoldenImage(name, await goldenImageArgs(inputs), opts);
  return { resource: component, state: component.outputs as Inputs };
}
