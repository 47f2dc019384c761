/**
 * The Pulumi package schema of the `vmbranch` resource plugin: package `vmbranch`, the resources
 * `vmbranch:index:Instance`, `Volume`, `VolumeTemplate` and `VolumeClone`, the functions
 * `getInstance`, `getVolume` and `getVolumeTemplate`, and the provider's config (`endpoint`, secret
 * `token`). What Pulumi YAML type-checks programs against and `pulumi package gen-sdk` generates
 * SDKs from. The property lists are those of the provider/impl field tables (a unit test keeps
 * them equal), so the schema cannot offer an input the implementation does not read. No I/O.
 */
import { INSTANCE_REPLACE_FIELDS, INSTANCE_UPDATE_FIELDS } from "../impl/instance-diff";
import { VOLUME_REPLACE_FIELDS, VOLUME_UPDATE_FIELDS } from "../impl/volume";
import { VOLUME_CLONE_REPLACE_FIELDS, VOLUME_CLONE_UPDATE_FIELDS } from "../impl/volume-clone";
import { VOLUME_TEMPLATE_REPLACE_FIELDS, VOLUME_TEMPLATE_UPDATE_FIELDS } from "../impl/volume-template";

/** A property in Pulumi's schema language. */
export interface SchemaProperty {
  type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  items?: SchemaProperty;
  additionalProperties?: SchemaProperty;
  $ref?: string;
  description?: string;
  secret?: boolean;
  replaceOnChanges?: boolean;
}

type Props = Record<string, SchemaProperty>;

const str = (description: string): SchemaProperty => ({ type: "string", description });
const int = (description: string): SchemaProperty => ({ type: "integer", description });
const bool = (description: string): SchemaProperty => ({ type: "boolean", description });
const strings = (description: string): SchemaProperty => ({ type: "array", items: { type: "string" }, description });
const stringMap = (description: string): SchemaProperty => ({ type: "object", additionalProperties: { type: "string" }, description });
const ref = (type: string, description: string): SchemaProperty => ({ $ref: `#/types/vmbranch:index:${type}`, description });
const refs = (type: string, description: string): SchemaProperty => ({ type: "array", items: { $ref: `#/types/vmbranch:index:${type}` }, description });
const anyList = (description: string): SchemaProperty => ({ type: "array", items: { $ref: "pulumi.json#/Any" }, description });

const shared: Props = {
  name: str("API name; `<logical name>-<7 hex>` when absent (stable across updates, seeded by the engine). Changing it replaces."),
  tags: strings("Tags (compared as a set)."),
  deleteLock: bool("While true the API refuses to delete it (set false before destroying). Default false."),
  timeouts: ref("Timeouts", "Deadlines of create, update and delete; the resource option `customTimeouts` wins over them."),
};
const triggers = anyList("Any values: when one changes, the resource is replaced.");

const INSTANCE_INPUTS: Props = {
  name: shared.name as SchemaProperty,
  image: str("Image to boot (e.g. `base`). Set exactly one of image, template, checkpoint, branchFrom. Replaces on change."),
  template: str("Instance template (name or uuid) to instantiate. Replaces on change."),
  branchFrom: str("Instance (name or uuid) to branch: a copy of its running memory and disks. Replaces on change."),
  checkpoint: str("Checkpoint (name or uuid) to load: the guest continues from it. Replaces on change."),
  memoryMb: int("Memory in MiB (a branch or template instance inherits it). Replaces on change."),
  vcpus: int("Virtual CPUs. Replaces on change."),
  args: strings("The guest's main process and its arguments. Replaces on change."),
  env: stringMap("Environment of the main process. Replaces on change."),
  volumes: refs("InstanceVolume", "Volumes to mount (stopped meanwhile); a change to an inline volume replaces."),
  ports: refs("Port", "Guest ports published on 127.0.0.1 of the vmbranch host (updated while it runs)."),
  tags: shared.tags as SchemaProperty,
  annotations: stringMap("Annotations (key: value)."),
  deleteLock: shared.deleteLock as SchemaProperty,
  state: str("Lifecycle state to keep: `running` (default), `stopped` or `standby` (suspended with its memory)."),
  hostname: str("The guest's hostname. Replaces on change."),
  outboundNetwork: bool("Let the guest open connections beyond the host (never to the host itself). Default false. Replaces on change."),
  cloneOptions: ref("CloneOptions", "What a branch or template instance copies from its source. Replaces on change."),
  timeouts: shared.timeouts as SchemaProperty,
  readiness: ref("Readiness", "After `running`, wait until GET `path` on the published `guestPort` answers 2xx/3xx."),
  waitForExit: bool("Run once: wait until the main process exits with code 0; it then stays `stopped`."),
  triggers,
};

const INSTANCE_COMPUTED: Props = {
  uuid: str("The instance's uuid (its id)."),
  autoNamed: bool("True when the provider chose `name`."),
  publishedPorts: refs("PublishedPort", "Every published port as the server assigned it."),
  hostPorts: { type: "object", additionalProperties: { type: "integer" }, description: "Host port per published guest port: `8080` for TCP, `53/udp` for UDP." },
  attachedVolumes: refs("AttachedVolume", "The volumes attached, as the server reports them."),
  macAddress: str("MAC address of eth0."),
  privateIp: str("The guest's address on its private network."),
  smbiosSerial: str("SMBIOS serial number."),
  branchedFrom: str("Name of the instance this one was branched from."),
  branchedFromUuid: str("Uuid of the instance this one was branched from."),
  branchPhase: str("`SnapshotInProgress`, `CreatingTarget`, `RestoreInProgress`, `Succeeded` or `Failed`."),
  sourcePauseMs: int("How long the source paused for the branch's snapshot."),
  snapshotAt: str("When the branch's snapshot was taken."),
  snapshotMs: int("From the snapshot's instant until it was complete."),
  restoreMs: int("From the complete snapshot until the branch ran."),
  bootTimeMs: int("How long the boot took."),
  createdAt: str("Creation time."),
  startedAt: str("Last start."),
  exitCode: int("Exit code of the main process, once it exited."),
  stopReason: str("Why it stopped."),
  accelerator: str("`kvm` or `tcg`."),
};

const VOLUME_INPUTS: Props = {
  name: shared.name as SchemaProperty,
  sizeMb: int("Size in MiB of a block volume; it can only grow (an update)."),
  filesystem: str("Filesystem of a new block volume (`ext4`). Replaces on change."),
  hostPath: str("A managed host directory shared into guests (9p) instead of a block volume. Replaces on change."),
  uid: int("Owner uid of a managed directory. Replaces on change."),
  gid: int("Owner gid of a managed directory. Replaces on change."),
  template: str("Volume template (name or uuid) whose contents the new volume copies. Replaces on change."),
  tags: shared.tags as SchemaProperty,
  deleteLock: shared.deleteLock as SchemaProperty,
  timeouts: shared.timeouts as SchemaProperty,
};

const VOLUME_TEMPLATE_INPUTS: Props = {
  name: shared.name as SchemaProperty,
  sourceVolume: str("Volume (name or uuid) whose current contents are frozen. Replaces on change."),
  tags: shared.tags as SchemaProperty,
  deleteLock: shared.deleteLock as SchemaProperty,
  timeouts: shared.timeouts as SchemaProperty,
  triggers,
};

const VOLUME_CLONE_INPUTS: Props = {
  name: shared.name as SchemaProperty,
  source: str("Volume or volume template (name or uuid) to copy (copy-on-write). Replaces on change."),
  tags: shared.tags as SchemaProperty,
  deleteLock: shared.deleteLock as SchemaProperty,
  timeouts: shared.timeouts as SchemaProperty,
  triggers,
};

const VOLUME_COMPUTED: Props = {
  uuid: str("The volume's uuid (its id)."),
  autoNamed: bool("True when the provider chose `name`."),
  state: str("`pending`, `available`, `attached`, …"),
  kind: str("`block` or `managed`."),
  attachedTo: strings("Names of the instances it is attached to."),
  persistent: bool("False for an inline volume that lives and dies with its instance."),
  createdAt: str("Creation time."),
};

const TYPES: Record<string, { description: string; properties: Props; required?: string[] }> = {
  InstanceVolume: {
    description: "A volume of an instance: an existing volume by name or uuid, or a new inline one (`sizeMb`) that lives and dies with it.",
    properties: {
      volume: str("Name or uuid of an existing volume, or the name of a new inline volume."),
      sizeMb: int("Size of a new inline volume in MiB (ext4)."),
      at: str("Absolute mount path inside the guest."),
      readonly: bool("Mount read-only (read-only mounts may be shared)."),
    },
    required: ["at"],
  },
  Port: {
    description: "A guest port published on a host port of the vmbranch host (127.0.0.1).",
    properties: { guestPort: int("Port inside the guest."), hostPort: int("Fixed host port; chosen by the server (and kept) when absent."), protocol: str("`tcp` (default) or `udp`.") },
    required: ["guestPort"],
  },
  CloneOptions: {
    description: "What a branch or template instance copies from its source.",
    properties: {
      tagFilters: strings("Which of the source's tags are copied: `*` only at the end, `!` only at the start; default all."),
      annotationFilters: strings("Which of the source's annotations are copied (same grammar)."),
      newMacAddresses: stringMap("New MAC address per interface (`eth0`), for a cold clone."),
      newSmbiosSerial: str("New SMBIOS serial number."),
    },
  },
  Readiness: {
    description: "An HTTP readiness check on a published port, run from where Pulumi runs.",
    properties: { guestPort: int("Published guest port to GET."), path: str("Path to GET (default `/`).") },
    required: ["guestPort"],
  },
  Timeouts: {
    description: "Deadlines as durations like `90s`, `5m`, `1h30m`; defaults 5m, 5m and 2m.",
    properties: { create: str("Deadline of create."), update: str("Deadline of update."), delete: str("Deadline of delete (the one stored at the last create or update).") },
  },
  PublishedPort: {
    description: "A published port as the server assigned it.",
    properties: { guestPort: int("Guest port."), hostPort: int("Host port."), hostIp: str("Host address."), protocol: str("`tcp` or `udp`.") },
  },
  AttachedVolume: {
    description: "A volume attached to an instance, as the server reports it.",
    properties: { uuid: str("Uuid."), name: str("Name."), at: str("Mount path."), readonly: bool("Read-only."), inline: bool("Lives and dies with the instance."), kind: str("`block` or `managed`.") },
  },
};

/** One resource of the package: its inputs (from the impl's field tables) and its computed outputs. */
export interface ResourceSpec {
  description: string;
  inputs: Props;
  computed: Props;
  /** The impl's inputs (replace and update tables) the schema must offer. */
  fields: readonly string[];
  /** How `pulumi import` names one. */
  importExample: string;
}

/** The package's resources by type token. */
export const RESOURCES: Record<string, ResourceSpec> = {
  "vmbranch:index:Instance": {
    description: "A VM of `vmbranch serve`: booted from an image, an instance template, a checkpoint, or branched from another running instance.",
    inputs: INSTANCE_INPUTS,
    computed: INSTANCE_COMPUTED,
    fields: [...INSTANCE_REPLACE_FIELDS, ...INSTANCE_UPDATE_FIELDS],
    importExample: "pulumi import vmbranch:index:Instance db 3f1c0d2e-0000-4000-8000-000000000000",
  },
  "vmbranch:index:Volume": {
    description: "A persistent volume: an ext4 block volume, a copy of a volume template, or a managed host directory.",
    inputs: VOLUME_INPUTS,
    computed: VOLUME_COMPUTED,
    fields: [...VOLUME_REPLACE_FIELDS, ...VOLUME_UPDATE_FIELDS],
    importExample: "pulumi import vmbranch:index:Volume data 3f1c0d2e-0000-4000-8000-000000000000",
  },
  "vmbranch:index:VolumeTemplate": {
    description: "An immutable template frozen from a volume's current contents.",
    inputs: VOLUME_TEMPLATE_INPUTS,
    computed: { ...VOLUME_COMPUTED, sizeMb: int("Size in MiB."), filesystem: str("Filesystem."), clones: strings("Volumes cloned from it.") },
    fields: [...VOLUME_TEMPLATE_REPLACE_FIELDS, ...VOLUME_TEMPLATE_UPDATE_FIELDS],
    importExample: "pulumi import vmbranch:index:VolumeTemplate golden 3f1c0d2e-0000-4000-8000-000000000000",
  },
  "vmbranch:index:VolumeClone": {
    description: "A copy-on-write copy of a volume or a volume template.",
    inputs: VOLUME_CLONE_INPUTS,
    computed: { ...VOLUME_COMPUTED, sizeMb: int("Size in MiB."), filesystem: str("Filesystem."), sourceUuid: str("Uuid of the source."), sourceName: str("Name of the source.") },
    fields: [...VOLUME_CLONE_REPLACE_FIELDS, ...VOLUME_CLONE_UPDATE_FIELDS],
    importExample: "pulumi import vmbranch:index:VolumeClone site 3f1c0d2e-0000-4000-8000-000000000000",
  },
};

const LOOKUP_INPUTS: Props = { name: str("Name of the object (or give uuid)."), uuid: str("Uuid of the object (or give name).") };

/** The package's functions by token: what each returns. */
export const FUNCTIONS: Record<string, { description: string; outputs: Props }> = {
  "vmbranch:index:getInstance": {
    description: "An existing instance, by name or uuid, not managed by the program.",
    outputs: { ...without(INSTANCE_INPUTS, ["timeouts", "readiness", "waitForExit", "triggers", "branchFrom", "cloneOptions", "volumes", "ports"]), ...without(INSTANCE_COMPUTED, ["autoNamed"]) },
  },
  "vmbranch:index:getVolume": {
    description: "An existing volume (or clone), by name or uuid.",
    outputs: {
      ...without(VOLUME_INPUTS, ["timeouts"]),
      ...without(VOLUME_COMPUTED, ["autoNamed"]),
      sourceName: str("Name of the volume or template it was cloned from."),
      sourceUuid: str("Uuid of the volume or template it was cloned from."),
    },
  },
  "vmbranch:index:getVolumeTemplate": {
    description: "An existing volume template, by name or uuid.",
    outputs: {
      uuid: str("Uuid."),
      name: str("Name."),
      sizeMb: int("Size in MiB."),
      filesystem: str("Filesystem."),
      sourceVolumeName: str("Name of the volume it was frozen from."),
      sourceVolumeUuid: str("Uuid of the volume it was frozen from."),
      tags: strings("Tags."),
      deleteLock: bool("Delete lock."),
      clones: strings("Volumes cloned from it."),
      createdAt: str("Creation time."),
    },
  },
};

function without(props: Props, keys: readonly string[]): Props {
  return Object.fromEntries(Object.entries(props).filter(([k]) => !keys.includes(k)));
}

const CONFIG: Props = {
  endpoint: str("URL of `vmbranch serve` (default `http://127.0.0.1:7480`); the environment variable VMBRANCH_ENDPOINT wins."),
  token: { type: "string", secret: true, description: "API token of `vmbranch serve`; the environment variable VMBRANCH_TOKEN wins, then the token file of a local server." },
};

/** Go import path of the generated Go SDK (`pulumi package gen-sdk --language go`). */
export const GO_IMPORT_BASE_PATH = "github.com/vmbranch/vmbranch/sdk/go/vmbranch";

/** The package schema for plugin version `version`, as the object `GetSchema` serializes. */
export function packageSchema(version: string): Record<string, unknown> {
  const resources = Object.fromEntries(
    Object.entries(RESOURCES).map(([token, r]) => [
      token,
      {
        description: `${r.description}\n\n## Import\n\nAn existing one, by uuid:\n\n\`\`\`sh\n$ ${r.importExample}\n\`\`\`\n`,
        inputProperties: r.inputs,
        properties: { ...r.inputs, ...r.computed },
        required: ["name", "uuid"],
      },
    ]),
  );
  const functions = Object.fromEntries(
    Object.entries(FUNCTIONS).map(([token, f]) => [token, { description: f.description, inputs: { properties: LOOKUP_INPUTS }, outputs: { properties: f.outputs, required: ["uuid", "name"] } }]),
  );
  return {
    name: "vmbranch",
    displayName: "vmbranch",
    version,
    description: "Branch running QEMU virtual machines from infrastructure code: instances, volumes, volume templates and clones of `vmbranch serve`.",
    keywords: ["pulumi", "qemu", "vm", "branching", "category/infrastructure", "kind/native"],
    license: "Apache-2.0",
    publisher: "vmbranch",
    config: { variables: CONFIG },
    provider: { description: "The connection to one `vmbranch serve`: one explicit provider per server.", inputProperties: CONFIG, properties: CONFIG },
    types: Object.fromEntries(Object.entries(TYPES).map(([name, t]) => [`vmbranch:index:${name}`, { type: "object", ...t }])),
    resources,
    functions,
    language: {
      nodejs: { packageName: "@vmbranch/pulumi", dependencies: { "@pulumi/pulumi": "^3.259.0" } },
      python: { packageName: "pulumi_vmbranch", requires: { pulumi: ">=3.0.0,<4.0.0" } },
      go: { importBasePath: GO_IMPORT_BASE_PATH, generateResourceContainerTypes: true },
    },
  };
}
