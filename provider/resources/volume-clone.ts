/**
 * `vmbranch.VolumeClone`: an independent copy-on-write copy of a volume or a volume template,
 * usable like any volume once its data is ready (create waits for that). Typed arguments,
 * declared outputs and the serialized provider shell; the behaviour lives in
 * provider/impl/volume-clone.ts, loaded at run time.
 */
import * as pulumi from "@pulumi/pulumi";
import type { TimeoutsInput } from "../impl/timeouts";
import { computedOutputs, providerShell, type ProviderImpl } from "./provider-shell";
import { requireSupportedPulumi } from "./pulumi-version";

/** The arguments of a VolumeClone. */
export interface VolumeCloneArgs {
  /** API name; `<logical name>-<7 random hex>` when absent. Replaces on change. */
  name?: pulumi.Input<string>;
  /** Volume or volume template (name or uuid) to copy. Replaces on change. */
  source: pulumi.Input<string>;
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  /** While true the clone cannot be deleted. */
  deleteLock?: pulumi.Input<boolean>;
  /** Any values: when one changes, the resource is replaced (re-frozen, re-cloned). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any values, like Pulumi's own `triggers` inputs
  triggers?: pulumi.Input<any[]>;
  /** Deadlines of create (includes waiting for the data), update and delete. */
  timeouts?: pulumi.Input<TimeoutsInput>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadVolumeCloneImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/volume-clone");
}

/** The VolumeClone provider (one per program, so Pulumi serializes it once). */
export const volumeCloneProvider: pulumi.dynamic.ResourceProvider = providerShell(loadVolumeCloneImpl);

/** Every output of a VolumeClone. */
export const VOLUME_CLONE_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "state", "kind", "attachedTo", "persistent", "createdAt", "sourceUuid", "sourceName",
  "template", "sizeMb", "filesystem", "name", "source", "tags", "deleteLock", "timeouts", "triggers",
] as const;

/** A copy-on-write copy of a vmbranch volume or volume template. */
export class VolumeClone extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly source: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<string[]>;
  declare readonly deleteLock: pulumi.Output<boolean>;
  declare readonly timeouts: pulumi.Output<TimeoutsInput | null>;
  declare readonly triggers: pulumi.Output<unknown[] | null>;
  declare readonly schemaVersion: pulumi.Output<number>;
  declare readonly autoNamed: pulumi.Output<boolean>;
  declare readonly uuid: pulumi.Output<string>;
  /** `available` once ready, `mounted` while a running instance uses it, as last seen. */
  declare readonly state: pulumi.Output<string>;
  declare readonly kind: pulumi.Output<string>;
  declare readonly attachedTo: pulumi.Output<string[]>;
  declare readonly persistent: pulumi.Output<boolean>;
  declare readonly createdAt: pulumi.Output<string>;
  declare readonly sourceUuid: pulumi.Output<string | null>;
  declare readonly sourceName: pulumi.Output<string | null>;
  /** The volume template it was cloned from, when its source is a template. */
  declare readonly template: pulumi.Output<string | null>;
  declare readonly sizeMb: pulumi.Output<number | null>;
  declare readonly filesystem: pulumi.Output<string | null>;

  /** Declare a clone; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: VolumeCloneArgs, opts?: pulumi.CustomResourceOptions) {
    requireSupportedPulumi();
    super(volumeCloneProvider, name, { ...computedOutputs(VOLUME_CLONE_OUTPUTS), ...args, namePrefix: name }, opts, "vmbranch", "VolumeClone");
  }
  /** An existing volume (a clone), by uuid (or name), read from the server and not managed by this stack. */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): VolumeClone {
    return new VolumeClone(name, {} as VolumeCloneArgs, { ...opts, id });
  }

}
