/**
 * `vmbranch.VolumeTemplate`: an immutable volume template frozen (copy-on-write) from the current
 * contents of a volume, which stays an ordinary writable volume. Clone it with VolumeClone or
 * start a Volume from it. Typed arguments, declared outputs and the serialized provider shell;
 * the behaviour lives in provider/impl/volume-template.ts, loaded at run time.
 */
import * as pulumi from "@pulumi/pulumi";
import { ManagedResource, type ManagedArgs, type TriggersArgs } from "./managed-resource";
import { providerShell, type ProviderImpl } from "./provider-shell";

/** The arguments of a VolumeTemplate. */
export interface VolumeTemplateArgs extends ManagedArgs, TriggersArgs {
  /**
   * Volume (name or uuid, typically a Volume's `name`) whose contents are frozen. Replaces on
   * change. Use `dependsOn` on whatever prepares the volume, so it is frozen afterwards.
   */
  sourceVolume: pulumi.Input<string>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadVolumeTemplateImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/volume-template");
}

/** The VolumeTemplate provider (one per program, so Pulumi serializes it once). */
export const volumeTemplateProvider: pulumi.dynamic.ResourceProvider = providerShell(loadVolumeTemplateImpl);

/** Every output of a VolumeTemplate. */
export const VOLUME_TEMPLATE_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "state", "kind", "persistent", "createdAt", "hostState", "sourceVolumeUuid", "sourceVolumeName",
  "sizeMb", "filesystem", "name", "sourceVolume", "tags", "deleteLock", "timeouts", "triggers",
] as const;

/** An immutable vmbranch volume template. */
export class VolumeTemplate extends ManagedResource {
  declare readonly sourceVolume: pulumi.Output<string>;
  declare readonly triggers: pulumi.Output<unknown[] | null>;
  /** Always `template`. */
  declare readonly state: pulumi.Output<string>;
  declare readonly kind: pulumi.Output<string>;
  declare readonly persistent: pulumi.Output<boolean>;
  declare readonly sourceVolumeUuid: pulumi.Output<string | null>;
  declare readonly sourceVolumeName: pulumi.Output<string | null>;
  declare readonly sizeMb: pulumi.Output<number | null>;
  declare readonly filesystem: pulumi.Output<string | null>;
  /** `online`, or `offline` once its host's heartbeats stopped (its `state` is then as last recorded); null from servers older than host failure. */
  declare readonly hostState: pulumi.Output<string | null>;

  /** Declare a template; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: VolumeTemplateArgs, opts?: pulumi.CustomResourceOptions) {
    super(volumeTemplateProvider, "VolumeTemplate", name, VOLUME_TEMPLATE_OUTPUTS, args, opts);
  }
  /** An existing volume template, by uuid (or name), read from the server and not managed by this stack. */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): VolumeTemplate {
    return new VolumeTemplate(name, {} as VolumeTemplateArgs, { ...opts, id });
  }

}
