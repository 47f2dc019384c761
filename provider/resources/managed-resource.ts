/**
 * What the volume-like dynamic resources (Volume, VolumeTemplate, VolumeClone, Checkpoint) declare
 * alike: the arguments every one takes (name, tags, delete lock, timeouts, and `triggers` where a
 * change re-creates), the outputs every one has, and the constructor that registers a resource
 * with its declared outputs and the logical name as the auto-name's prefix. Each resource module
 * declares its own arguments, outputs and provider shell.
 */
import * as pulumi from "@pulumi/pulumi";
import type { TimeoutsInput } from "../impl/timeouts";
import { computedOutputs } from "./provider-shell";
import { requireSupportedPulumi } from "./pulumi-version";

/** The arguments every volume-like resource takes. */
export interface ManagedArgs {
  /** API name; `<logical name>-<7 random hex>` when absent. Replaces on change. */
  name?: pulumi.Input<string>;
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  /** While true the API refuses to delete it. */
  deleteLock?: pulumi.Input<boolean>;
  /** Deadlines of create, update and delete ("5m", "90s" or seconds). */
  timeouts?: pulumi.Input<TimeoutsInput>;
}

/** The `triggers` argument of a resource that one instant or one copy makes (a change re-creates it). */
export interface TriggersArgs {
  /** Any values: when one changes, the resource is replaced (re-frozen, re-cloned, captured again). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any values, like Pulumi's own `triggers` inputs
  triggers?: pulumi.Input<any[]>;
}

/** A volume-like resource: the outputs they all have, registered by one constructor. */
export abstract class ManagedResource extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<string[]>;
  declare readonly deleteLock: pulumi.Output<boolean>;
  declare readonly timeouts: pulumi.Output<TimeoutsInput | null>;
  declare readonly schemaVersion: pulumi.Output<number>;
  declare readonly autoNamed: pulumi.Output<boolean>;
  declare readonly uuid: pulumi.Output<string>;
  declare readonly state: pulumi.Output<string>;
  declare readonly createdAt: pulumi.Output<string>;

  /** Register `vmbranch:<type>` with every output in `outputs`; `name` is the logical name (and the auto-name's prefix). */
  protected constructor(provider: pulumi.dynamic.ResourceProvider, type: string, name: string, outputs: readonly string[], args: object, opts?: pulumi.CustomResourceOptions) {
    requireSupportedPulumi();
    super(provider, name, { ...computedOutputs(outputs), ...args, namePrefix: name }, opts, "vmbranch", type);
  }
}
