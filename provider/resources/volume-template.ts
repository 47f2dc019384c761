/**
 * `vmbranch.VolumeTemplate`: an immutable volume template frozen (copy-on-write) from the current
 * contents of a volume, which stays an ordinary writable volume. Clone it with VolumeClone or
 * start a Volume from it. Typed arguments, declared outputs and the serialized provider shell;
 * the behaviour lives in provider/impl/volume-template.ts, loaded at run time.
 */
import * as pulumi from "@pulumi/pulumi";
import type { TimeoutsInput } from "../impl/timeouts";
import { computedOutputs, providerShell, type ProviderImpl } from "./provider-shell";
import { requireSupportedPulumi } from "./pulumi-version";

/** The arguments of a VolumeTemplate. */
export interface VolumeTemplateArgs {
  /** API name; `<logical name>-<7 random hex>` when absent. Replaces on change. */
  name?: pulumi.Input<string>;
  /**
   * Volume (name or uuid, typically a Volume's `name`) whose contents are frozen. Replaces on
   * change. Use `dependsOn` on whatever prepares the volume, so it is frozen afterwards.
   */
  sourceVolume: pulumi.Input<string>;
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  /** While true the template cannot be deleted. */
  deleteLock?: pulumi.Input<boolean>;
  /** Any values: when one changes, the resource is replaced (re-frozen, re-cloned). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any values, like Pulumi's own `triggers` inputs
  triggers?: pulumi.Input<any[]>;
  /** Deadlines of create, update and delete ("5m", "90s" or seconds). */
  timeouts?: pulumi.Input<TimeoutsInput>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadVolumeTemplateImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/volume-template");
}

/** The VolumeTemplate provider (one per program, so Pulumi serializes it once). */
export const volumeTemplateProvider: pulumi.dynamic.ResourceProvider = providerShell(loadVolumeTemplateImpl);

/** Every output of a VolumeTemplate. */
export const VOLUME_TEMPLATE_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "state", "kind", "persistent", "createdAt", "sourceVolumeUuid", "sourceVolumeName",
  "sizeMb", "filesystem", "name", "sourceVolume", "tags", "deleteLock", "timeouts", "triggers",
] as const;

/** An immutable vmbranch volume template. */
export class VolumeTemplate extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly sourceVolume: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<string[]>;
  declare readonly deleteLock: pulumi.Output<boolean>;
  declare readonly timeouts: pulumi.Output<TimeoutsInput | null>;
  declare readonly triggers: pulumi.Output<unknown[] | null>;
  declare readonly schemaVersion: pulumi.Output<number>;
  declare readonly autoNamed: pulumi.Output<boolean>;
  declare readonly uuid: pulumi.Output<string>;
  /** Always `template`. */
  declare readonly state: pulumi.Output<string>;
  declare readonly kind: pulumi.Output<string>;
  declare readonly persistent: pulumi.Output<boolean>;
  declare readonly createdAt: pulumi.Output<string>;
  declare readonly sourceVolumeUuid: pulumi.Output<string | null>;
  declare readonly sourceVolumeName: pulumi.Output<string | null>;
  declare readonly sizeMb: pulumi.Output<number | null>;
  declare readonly filesystem: pulumi.Output<string | null>;

  /** Declare a template; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: VolumeTemplateArgs, opts?: pulumi.CustomResourceOptions) {
    requireSupportedPulumi();
    super(volumeTemplateProvider, name, { ...computedOutputs(VOLUME_TEMPLATE_OUTPUTS), ...args, namePrefix: name }, opts, "vmbranch", "VolumeTemplate");
  }
  /** An existing volume template, by uuid (or name), read from the server and not managed by this stack. */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): VolumeTemplate {
    return new VolumeTemplate(name, {} as VolumeTemplateArgs, { ...opts, id });
  }

}
