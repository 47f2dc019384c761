/**
 * `vmbranch.GoldenImage`: the golden-image pipeline (provider/resources/golden-image-pipeline.ts)
 * as one component of dynamic resources: preparation job → volume template → clones → optional
 * instances, re-baked as one replace chain. The plugin's `vmbranch:index:GoldenImage` declares the
 * same pipeline with its own resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { declareGoldenImage, type GoldenImageArgs } from "./golden-image-pipeline";
import { Instance } from "./instance";
import { VolumeClone } from "./volume-clone";
import { VolumeTemplate } from "./volume-template";

export type { GoldenImageArgs, GoldenImageInstanceArgs, GoldenImageJobArgs } from "./golden-image-pipeline";

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
    const pipeline = declareGoldenImage(
      name,
      args,
      {
        instance: (n, a, o) => new Instance(n, a, o),
        template: (n, a, o) => new VolumeTemplate(n, a, o),
        clone: (n, a, o) => new VolumeClone(n, a, o),
      },
      this,
    );
    this.job = pipeline.job;
    this.template = pipeline.template;
    this.clones = pipeline.clones;
    this.instances = pipeline.instances;
    this.templateName = this.template.name;
    this.cloneNames = pulumi.all(this.clones.map((c) => c.name));
    this.registerOutputs({ templateName: this.templateName, cloneNames: this.cloneNames });
  }
}
