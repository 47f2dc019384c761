/**
 * `vmbranch.VolumeClone`: an independent copy-on-write copy of a volume or a volume template,
 * usable like any volume once its data is ready (create waits for that). Typed arguments,
 * declared outputs and the serialized provider shell; the behaviour lives in
 * provider/impl/volume-clone.ts, loaded at run time.
 */
import * as pulumi from "@pulumi/pulumi";
import { ManagedResource, type ManagedArgs, type TriggersArgs } from "./managed-resource";
import { providerShell, type ProviderImpl } from "./provider-shell";

/** The arguments of a VolumeClone (its `timeouts.create` includes waiting for the data). */
export interface VolumeCloneArgs extends ManagedArgs, TriggersArgs {
  /** Volume or volume template (name or uuid) to copy. Replaces on change. */
  source: pulumi.Input<string>;
  /**
   * The host to make it on (`GET /v1/hosts`); unset: its source's. On another host the source's
   * frozen layers are copied there. Replaces on change.
   */
  host?: pulumi.Input<string>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadVolumeCloneImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/volume-clone");
}

/** The VolumeClone provider (one per program, so Pulumi serializes it once). */
export const volumeCloneProvider: pulumi.dynamic.ResourceProvider = providerShell(loadVolumeCloneImpl);

/** Every output of a VolumeClone. */
export const VOLUME_CLONE_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "state", "kind", "attachedTo", "persistent", "createdAt", "hostState", "sourceUuid", "sourceName",
  "template", "sizeMb", "filesystem", "name", "source", "host", "tags", "deleteLock", "timeouts", "triggers",
] as const;

/** A copy-on-write copy of a vmbranch volume or volume template. */
export class VolumeClone extends ManagedResource {
  declare readonly source: pulumi.Output<string>;
  declare readonly triggers: pulumi.Output<unknown[] | null>;
  /** `available` once ready, `mounted` while a running instance uses it, as last seen. */
  declare readonly state: pulumi.Output<string>;
  declare readonly kind: pulumi.Output<string>;
  declare readonly attachedTo: pulumi.Output<string[]>;
  declare readonly persistent: pulumi.Output<boolean>;
  declare readonly sourceUuid: pulumi.Output<string | null>;
  declare readonly sourceName: pulumi.Output<string | null>;
  /** The volume template it was cloned from, when its source is a template. */
  declare readonly template: pulumi.Output<string | null>;
  declare readonly sizeMb: pulumi.Output<number | null>;
  declare readonly filesystem: pulumi.Output<string | null>;
  /** The host its data lives on. */
  declare readonly host: pulumi.Output<string | null>;
  /** `online`, or `offline` once its host's heartbeats stopped (its `state` is then as last recorded); null from servers older than host failure. */
  declare readonly hostState: pulumi.Output<string | null>;

  /** Declare a clone; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: VolumeCloneArgs, opts?: pulumi.CustomResourceOptions) {
    super(volumeCloneProvider, "VolumeClone", name, VOLUME_CLONE_OUTPUTS, args, opts);
  }
  /** An existing volume (a clone), by uuid (or name), read from the server and not managed by this stack. */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): VolumeClone {
    return new VolumeClone(name, {} as VolumeCloneArgs, { ...opts, id });
  }

}
