/**
 * `vmbranch.Volume`: a persistent volume of `vmbranch serve` that outlives the instances it is
 * attached to: an empty ext4 block volume (`sizeMb`), a copy of a volume template (`template`),
 * or a managed host directory (`hostPath`). Typed arguments, declared outputs and the serialized
 * provider shell; the behaviour lives in provider/impl/volume.ts, loaded at run time.
 */
import * as pulumi from "@pulumi/pulumi";
import { ManagedResource, type ManagedArgs } from "./managed-resource";
import { providerShell, type ProviderImpl } from "./provider-shell";

/** The arguments of a Volume. Set exactly one of `sizeMb`, `template` or `hostPath`. */
export interface VolumeArgs extends ManagedArgs {
  /** Size in MiB of a new block volume. Grows in place; shrinking is refused. */
  sizeMb?: pulumi.Input<number>;
  /** Registered filesystem of a block volume (default `ext4`). Replaces on change. */
  filesystem?: pulumi.Input<string>;
  /** Host directory of a managed volume (absolute, normalised, inside an allowed root). Replaces on change. */
  hostPath?: pulumi.Input<string>;
  /** Owner uid/gid of a managed volume's mount in the guest (default 0). Replaces on change. */
  uid?: pulumi.Input<number>;
  gid?: pulumi.Input<number>;
  /** Volume template (name or uuid) whose data the volume starts with. Replaces on change. */
  template?: pulumi.Input<string>;
  /** The host to keep it on (`GET /v1/hosts`); unset: its template's, else the online host with the most free memory. Replaces on change. */
  host?: pulumi.Input<string>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadVolumeImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/volume");
}

/** The Volume provider (one per program, so Pulumi serializes it once). */
export const volumeProvider: pulumi.dynamic.ResourceProvider = providerShell(loadVolumeImpl);

/** Every output of a Volume (inputs report the server's value when unset). */
export const VOLUME_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "state", "kind", "attachedTo", "persistent", "createdAt", "hostState",
  "name", "sizeMb", "filesystem", "hostPath", "uid", "gid", "template", "host", "tags", "deleteLock", "timeouts",
] as const;

/** A persistent vmbranch volume. */
export class Volume extends ManagedResource {
  declare readonly sizeMb: pulumi.Output<number | null>;
  declare readonly filesystem: pulumi.Output<string | null>;
  declare readonly hostPath: pulumi.Output<string | null>;
  declare readonly uid: pulumi.Output<number | null>;
  declare readonly gid: pulumi.Output<number | null>;
  declare readonly template: pulumi.Output<string | null>;
  /** The host its data lives on. */
  declare readonly host: pulumi.Output<string | null>;
  /** `online`, or `offline` once its host's heartbeats stopped (its `state` is then as last recorded); null from servers older than host failure. */
  declare readonly hostState: pulumi.Output<string | null>;
  /** `available`, `mounted` (a running instance uses it), `pending`, `error`, … as last seen. */
  declare readonly state: pulumi.Output<string>;
  /** `block` or `managed`. */
  declare readonly kind: pulumi.Output<string>;
  /** Names of the instances it is attached to, as last seen. */
  declare readonly attachedTo: pulumi.Output<string[]>;
  declare readonly persistent: pulumi.Output<boolean>;

  /** Declare a volume; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: VolumeArgs, opts?: pulumi.CustomResourceOptions) {
    super(volumeProvider, "Volume", name, VOLUME_OUTPUTS, args, opts);
  }
  /** An existing volume, by uuid (or name), read from the server and not managed by this stack. */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Volume {
    return new Volume(name, {} as VolumeArgs, { ...opts, id });
  }

}
