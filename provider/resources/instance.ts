/**
 * `vmbranch.Instance`: a VM of `vmbranch serve`, created from an image, an instance template, or
 * as a branch of another running instance (`branchFrom`). This module is what programs import:
 * the typed arguments, the declared outputs, and the serialized provider shell; the provider's
 * behaviour lives in provider/impl/instance.ts and is loaded at run time (docs/provider.md).
 */
import * as pulumi from "@pulumi/pulumi";
import type { AttachedVolume, CloneOptionsInput, PublishedPort, ReadinessInput } from "../impl/instance-model";
import type { TimeoutsInput } from "../impl/timeouts";
import { computedOutputs, providerShell, type ProviderImpl } from "./provider-shell";
import { requireSupportedPulumi } from "./pulumi-version";

/** A volume of an instance: an existing volume by name or uuid, or a new inline one (`sizeMb`) that lives and dies with it. */
export interface InstanceVolumeArgs {
  /** Name or uuid of an existing volume (typically a Volume's `name`), or the name of a new inline volume. */
  volume?: pulumi.Input<string>;
  /** Size of a new inline volume in MiB (ext4). */
  sizeMb?: pulumi.Input<number>;
  /** Absolute mount path inside the guest. */
  at: pulumi.Input<string>;
  /** Mount read-only (read-only mounts may be shared by many instances). */
  readonly?: pulumi.Input<boolean>;
}

/** A guest port published on a host port of the vmbranch host (127.0.0.1). */
export interface PortArgs {
  guestPort: pulumi.Input<number>;
  /** Fixed host port; chosen by the server (and kept) when absent. */
  hostPort?: pulumi.Input<number>;
  protocol?: pulumi.Input<"tcp" | "udp">;
}

/** KubeVirt clone options, for a branch or a template instance. */
export interface CloneOptionsArgs {
  /** Which of the source's tags are copied: `*` only at the end, `!` only at the start; default all. */
  tagFilters?: pulumi.Input<pulumi.Input<string>[]>;
  /** Which of the source's annotations are copied (same grammar). */
  annotationFilters?: pulumi.Input<pulumi.Input<string>[]>;
  /** New MAC address per interface (`eth0`), for a cold clone. */
  newMacAddresses?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  newSmbiosSerial?: pulumi.Input<string>;
}

/** The arguments of an Instance. Set exactly one of `image`, `template`, `checkpoint` or `branchFrom`. */
export interface InstanceArgs {
  /** API name; `<logical name>-<7 random hex>` when absent (stable across updates). Changing it replaces. */
  name?: pulumi.Input<string>;
  /** Image to boot (e.g. `base`). Replaces on change. */
  image?: pulumi.Input<string>;
  /** Instance template (name or uuid) to instantiate. Replaces on change. */
  template?: pulumi.Input<string>;
  /** Instance (name or uuid, typically another Instance's `name`) to branch. Replaces on change. */
  branchFrom?: pulumi.Input<string>;
  /** Checkpoint (name or uuid, typically a Checkpoint's `name`) to load: the guest continues from it. Replaces on change. */
  checkpoint?: pulumi.Input<string>;
  memoryMb?: pulumi.Input<number>;
  vcpus?: pulumi.Input<number>;
  /** The guest's main process and its arguments. */
  args?: pulumi.Input<pulumi.Input<string>[]>;
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  volumes?: pulumi.Input<pulumi.Input<InstanceVolumeArgs>[]>;
  ports?: pulumi.Input<pulumi.Input<PortArgs>[]>;
  tags?: pulumi.Input<pulumi.Input<string>[]>;
  annotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** While true the instance cannot be deleted (set false before destroying it). */
  deleteLock?: pulumi.Input<boolean>;
  /** Lifecycle state to keep: `running` (default), `stopped` or `standby` (suspended with its memory). */
  state?: pulumi.Input<"running" | "stopped" | "standby">;
  hostname?: pulumi.Input<string>;
  /**
   * Let the guest open connections beyond the host (never to the host itself). Default false: the
   * guest is isolated and reachable only through its published ports. A branch or a template
   * instance takes its source's when unset. Changing it replaces the instance.
   */
  outboundNetwork?: pulumi.Input<boolean>;
  /**
   * The host to run it on (`GET /v1/hosts`). Unset: beside its volumes, else beside its source
   * unless that host is short of memory, else the online host with the most free memory. On
   * another host than its source's, what it needs of the source is sent there. Changing it
   * replaces the instance.
   */
  host?: pulumi.Input<string>;
  cloneOptions?: pulumi.Input<CloneOptionsArgs>;
  /** Deadlines of create, update and delete ("5m", "90s" or seconds); defaults 5m, 5m, 2m. */
  timeouts?: pulumi.Input<TimeoutsInput>;
  /** After `running`, wait until GET `path` on the published `guestPort` answers 2xx/3xx. */
  readiness?: pulumi.Input<ReadinessInput>;
  /**
   * Run once: wait until the main process exits with code 0; the instance then stays `stopped`. A
   * job that failed is run again by the next `up`.
   */
  waitForExit?: pulumi.Input<boolean>;
  /** Any values: when one changes, the instance is replaced (e.g. a job re-runs for new inputs it cannot see). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any values, like Pulumi's own `triggers` inputs
  triggers?: pulumi.Input<any[]>;
}

// Loaded in the engine's provider process; the path resolves through the package exports.
function loadInstanceImpl(): ProviderImpl {
  return require("vmbranch/provider/impl/instance");
}

/** The Instance provider (one per program, so Pulumi serializes it once). */
export const instanceProvider: pulumi.dynamic.ResourceProvider = providerShell(loadInstanceImpl);

/** Every output an Instance has beyond its arguments. */
export const INSTANCE_COMPUTED_OUTPUTS = [
  "schemaVersion", "autoNamed", "uuid", "hostState", "publishedPorts", "hostPorts", "attachedVolumes", "macAddress", "privateIp",
  "smbiosSerial", "branchedFrom", "branchedFromUuid", "branchPhase", "sourcePauseMs", "snapshotAt", "snapshotMs", "restoreMs", "bootTimeMs",
  "createdAt", "startedAt", "exitCode", "stopReason", "accelerator",
  // Inputs that also report the server's value when unset.
  "name", "image", "template", "branchFrom", "checkpoint", "memoryMb", "vcpus", "args", "env", "volumes", "ports", "tags",
  "annotations", "deleteLock", "state", "hostname", "outboundNetwork", "host", "cloneOptions", "timeouts", "readiness", "waitForExit", "triggers",
] as const;

/** A vmbranch VM. Outputs repeat every argument (or the server's value when unset) and add what the server decided. */
export class Instance extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string>;
  declare readonly template: pulumi.Output<string | null>;
  declare readonly branchFrom: pulumi.Output<string | null>;
  declare readonly checkpoint: pulumi.Output<string | null>;
  declare readonly memoryMb: pulumi.Output<number>;
  declare readonly vcpus: pulumi.Output<number>;
  declare readonly args: pulumi.Output<string[]>;
  declare readonly env: pulumi.Output<Record<string, string>>;
  declare readonly volumes: pulumi.Output<{ volume: string | null; sizeMb: number | null; at: string; readonly: boolean }[]>;
  declare readonly ports: pulumi.Output<{ guestPort: number; hostPort: number | null; protocol: "tcp" | "udp" }[]>;
  declare readonly tags: pulumi.Output<string[]>;
  declare readonly annotations: pulumi.Output<Record<string, string>>;
  declare readonly deleteLock: pulumi.Output<boolean>;
  /** The state as last seen by the provider (the desired one after create and update). */
  declare readonly state: pulumi.Output<string>;
  declare readonly hostname: pulumi.Output<string>;
  declare readonly outboundNetwork: pulumi.Output<boolean>;
  /** The host it lives on. */
  declare readonly host: pulumi.Output<string | null>;
  /** `online`, or `offline` once its host's heartbeats stopped (its `state` is then as last recorded); null from servers older than host failure. */
  declare readonly hostState: pulumi.Output<string | null>;
  declare readonly cloneOptions: pulumi.Output<CloneOptionsInput | null>;
  declare readonly timeouts: pulumi.Output<TimeoutsInput | null>;
  declare readonly readiness: pulumi.Output<ReadinessInput | null>;
  declare readonly waitForExit: pulumi.Output<boolean>;
  declare readonly triggers: pulumi.Output<unknown[] | null>;
  declare readonly schemaVersion: pulumi.Output<number>;
  declare readonly autoNamed: pulumi.Output<boolean>;
  declare readonly uuid: pulumi.Output<string>;
  declare readonly publishedPorts: pulumi.Output<PublishedPort[]>;
  /** Host port per published guest port: `"8080"` for TCP, `"53/udp"` for UDP. */
  declare readonly hostPorts: pulumi.Output<Record<string, number>>;
  declare readonly attachedVolumes: pulumi.Output<AttachedVolume[]>;
  declare readonly macAddress: pulumi.Output<string | null>;
  declare readonly privateIp: pulumi.Output<string | null>;
  declare readonly smbiosSerial: pulumi.Output<string>;
  /** Name of the instance this one was branched from. */
  declare readonly branchedFrom: pulumi.Output<string | null>;
  declare readonly branchedFromUuid: pulumi.Output<string | null>;
  /** `SnapshotInProgress`, `CreatingTarget`, `RestoreInProgress`, `Succeeded` or `Failed`. */
  declare readonly branchPhase: pulumi.Output<string | null>;
  /** How long the source paused for the branch's snapshot. */
  declare readonly sourcePauseMs: pulumi.Output<number | null>;
  declare readonly snapshotAt: pulumi.Output<string | null>;
  /** From the snapshot's instant until it was complete, and from then until the branch ran. */
  declare readonly snapshotMs: pulumi.Output<number | null>;
  declare readonly restoreMs: pulumi.Output<number | null>;
  declare readonly bootTimeMs: pulumi.Output<number | null>;
  declare readonly createdAt: pulumi.Output<string>;
  declare readonly startedAt: pulumi.Output<string | null>;
  declare readonly exitCode: pulumi.Output<number | null>;
  declare readonly stopReason: pulumi.Output<string | null>;
  declare readonly accelerator: pulumi.Output<string | null>;

  /** Declare an instance; `name` is the logical name (and the auto-name's prefix). */
  constructor(name: string, args: InstanceArgs, opts?: pulumi.CustomResourceOptions) {
    requireSupportedPulumi();
    super(instanceProvider, name, { ...computedOutputs(INSTANCE_COMPUTED_OUTPUTS), ...args, namePrefix: name }, opts, "vmbranch", "Instance");
  }

  /**
   * An existing instance, by uuid (or name), read from the server and not managed by this stack:
   * its outputs are the server's values; `destroy` leaves it alone.
   */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Instance {
    return new Instance(name, {}, { ...opts, id });
  }
}
