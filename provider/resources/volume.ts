/**
 * `vmbranch.Volume`: a persistent volume of `vmbranch serve` that outlives the instances it is
 * attached to: an empty ext4 block volume (`sizeMb`), a copy of a volume template (`template`),
 * or a managed host directory (`hostPath`). Typed arguments, declared outputs and the serialized
 * provider shell; the behaviour lives in provider/impl/volume.ts, loaded at run time.
 */
import * as pulumi from "@pulumi/pulumi";
import type { TimeoutsInput } from "../impl/timeouts";
import { computedOutputs, providerShell, type ProviderImpl } from "./provider-shell";
import { requireSupportedPulumi } from "./pulumi-version";

/** The arguments of a Volume. Set exactly one of `sizeMb`, `template` or `hostPath`. */
export interface VolumeArgs {
  /** API name; `<logical name>-<7 random hex>` when absent. Replaces on change. */
  name?: pulumi.Input<string>;
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
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  /** While true the volume cannot be deleted. */
  deleteLock?: pulumi.Input<boolean>;
  /** Deadlines of create, update and delete ("5m", "90s" or seconds). */
  timeouts?: pulumi.Input<TimeoutsInput>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadVolumeImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/volume");
}

/** The Volume provider (one per program, so Pulumi serializes it once). */
export const volumeProvider: pulumi.dynamic.ResourceProvider = providerShell(loadVolumeImpl);

/** Every output of a Volume (inputs report the server's value when unset). */
export const VOLUME_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "state", "kind", "attachedTo", "persistent", "createdAt",
  "name", "sizeMb", "filesystem", "hostPath", "uid", "gid", "template", "tags", "deleteLock", "timeouts",
] as const;

/** A persistent vmbranch volume. */
export class Volume extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly sizeMb: pulumi.Output<number | null>;
  declare readonly filesystem: pulumi.Output<string | null>;
  declare readonly hostPath: pulumi.Output<string | null>;
  declare readonly uid: pulumi.Output<number | null>;
  declare readonly gid: pulumi.Output<number | null>;
  declare readonly template: pulumi.Output<string | null>;
  declare readonly tags: pulumi.Output<string[]>;
  declare readonly deleteLock: pulumi.Output<boolean>;
  declare readonly timeouts: pulumi.Output<TimeoutsInput | null>;
  declare readonly schemaVersion: pulumi.Output<number>;
  declare readonly autoNamed: pulumi.Output<boolean>;
  declare readonly uuid: pulumi.Output<string>;
  /** `available`, `mounted` (a running instance uses it), `pending`, `error`, … as last seen. */
  declare readonly state: pulumi.Output<string>;
  /** `block` or `managed`. */
  declare readonly kind: pulumi.Output<string>;
  /** Names of the instances it is attached to, as last seen. */
  declare readonly attachedTo: pulumi.Output<string[]>;
  declare readonly persistent: pulumi.Output<boolean>;
  declare readonly createdAt: pulumi.Output<string>;

  /** Declare a volume; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: VolumeArgs, opts?: pulumi.CustomResourceOptions) {
    requireSupportedPulumi();
    super(volumeProvider, name, { ...computedOutputs(VOLUME_OUTPUTS), ...args, namePrefix: name }, opts, "vmbranch", "Volume");
  }
  /** An existing volume, by uuid (or name), read from the server and not managed by this stack. */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Volume {
    return new Volume(name, {} as VolumeArgs, { ...opts, id });
  }

}
