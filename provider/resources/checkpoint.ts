/**
 * `vmbranch.Checkpoint`: a named restore point of an instance — its memory (when it runs or is
 * in standby) and its block volumes at one instant — from which Instances load with their
 * `checkpoint` argument, as often as wanted. Typed arguments, declared outputs and the serialized
 * provider shell; the behaviour lives in provider/impl/checkpoint.ts, loaded at run time.
 */
import * as pulumi from "@pulumi/pulumi";
import { ManagedResource, type ManagedArgs, type TriggersArgs } from "./managed-resource";
import { providerShell, type ProviderImpl } from "./provider-shell";

/** The arguments of a Checkpoint. */
export interface CheckpointArgs extends ManagedArgs, TriggersArgs {
  /**
   * Instance (name or uuid, typically an Instance's `name`) to capture: running (live, the guest
   * pauses for milliseconds), standby (with its memory) or stopped (volumes only). Replaces on
   * change. Use `dependsOn` on whatever prepares the instance, so it is captured afterwards.
   */
  sourceInstance: pulumi.Input<string>;
  /** Delete the checkpoint this many milliseconds after its last load (0 or unset: never). */
  autokillMs?: pulumi.Input<number>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadCheckpointImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/checkpoint");
}

/** The Checkpoint provider (one per program, so Pulumi serializes it once). */
export const checkpointProvider: pulumi.dynamic.ResourceProvider = providerShell(loadCheckpointImpl);

/** Every output of a Checkpoint. */
export const CHECKPOINT_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "state", "hasMemory", "sourceInstanceUuid", "sourceInstanceName", "sourcePauseMs",
  "createdAt", "readyAt", "loads", "name", "sourceInstance", "tags", "deleteLock", "autokillMs", "timeouts", "triggers",
] as const;

/** A vmbranch checkpoint. */
export class Checkpoint extends ManagedResource {
  declare readonly sourceInstance: pulumi.Output<string>;
  declare readonly autokillMs: pulumi.Output<number>;
  declare readonly triggers: pulumi.Output<unknown[] | null>;
  /** `checkpoint` once captured. */
  declare readonly state: pulumi.Output<string>;
  /** True when it holds the guest's memory: loaded instances continue where it was. */
  declare readonly hasMemory: pulumi.Output<boolean>;
  declare readonly sourceInstanceUuid: pulumi.Output<string | null>;
  declare readonly sourceInstanceName: pulumi.Output<string | null>;
  /** How long the source's guest paused for the capture. */
  declare readonly sourcePauseMs: pulumi.Output<number | null>;
  declare readonly readyAt: pulumi.Output<string | null>;
  /** Instances loaded from it so far (at the last read). */
  declare readonly loads: pulumi.Output<number>;

  /** Declare a checkpoint; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: CheckpointArgs, opts?: pulumi.CustomResourceOptions) {
    super(checkpointProvider, "Checkpoint", name, CHECKPOINT_OUTPUTS, args, opts);
  }

  /** An existing checkpoint, by uuid (or name), read from the server and not managed by this stack. */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Checkpoint {
    return new Checkpoint(name, {} as CheckpointArgs, { ...opts, id });
  }
}
