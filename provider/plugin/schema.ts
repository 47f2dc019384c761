/**
 * The generator of the `vmbranch` plugin's Pulumi package schema (checked in as
 * provider/plugin/schema.json, written by `npm run schema`; a unit test fails when it is stale).
 * The wire contract stays the single source: every property that mirrors an API field takes its
 * type and description from the SDK's zod schema of that field (`.describe()`); only what the
 * provider adds (auto-naming, `state`, `readiness`, `timeouts`, `triggers`, …) is described here.
 * Each resource's property list is the provider/impl field tables (a unit test keeps them equal),
 * and whether a change replaces or updates is stated from those tables. Tables below, one small
 * builder; no I/O.
 */
import {
  AutokillSchema,
  BranchInfoSchema,
  CheckpointCreateItemSchema,
  CheckpointInfoSchema,
  InstanceCreateRequestSchema,
  InstancePortSchema,
  InstanceSchema,
  InstanceVolumeSchema,
  InstanceVolumeSpecSchema,
  PortSpecSchema,
  TagsSchema,
  VolumeCloneFields,
  VolumeCreateRequestSchema,
  VolumeSchema,
  VolumeTemplateItemSchema,
  wireDescription,
  wireJsonSchema,
  type WireSchema,
} from "vmbranch/sdk";
import { CHECKPOINT_REPLACE_FIELDS, CHECKPOINT_UPDATE_FIELDS } from "../impl/checkpoint";
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
  /** An input that must be a plain value, not an output of another resource. */
  plain?: boolean;
}

type Props = Record<string, SchemaProperty>;
type Json = Record<string, unknown>;

const I = InstanceCreateRequestSchema.shape;
const V = VolumeCreateRequestSchema.shape;
const OUT = InstanceSchema.shape;
const VOUT = VolumeSchema.shape;

/** A JSON Schema (zod's output) as a Pulumi schema type: scalars, arrays and maps; enums are strings. */
function fromJsonSchema(js: Json): SchemaProperty {
  if (Array.isArray(js.anyOf)) return fromJsonSchema((js.anyOf as Json[]).find((x) => x.type !== "null") ?? {});
  if (js.enum || js.const !== undefined) return { type: "string" };
  switch (js.type) {
    case "string":
    case "integer":
    case "number":
    case "boolean":
      return { type: js.type };
    case "array":
      return { type: "array", items: fromJsonSchema((js.items ?? {}) as Json) };
    case "object":
      if (js.additionalProperties && typeof js.additionalProperties === "object" && !js.properties) return { type: "object", additionalProperties: fromJsonSchema(js.additionalProperties as Json) };
      return { $ref: "pulumi.json#/Any" };
    default:
      return { $ref: "pulumi.json#/Any" };
  }
}

/** The property mirroring API field `field`: its type and description from the zod schema; `note` is the provider's addition. */
function wire(field: WireSchema, note?: string): SchemaProperty {
  const type = fromJsonSchema(wireJsonSchema(field));
  return { ...type, description: joined(wireDescription(field), note) };
}

/** A reference the API takes as `{uuid}` or `{name}`, which the provider takes as one string. */
function reference(field: WireSchema, note?: string): SchemaProperty {
  return { type: "string", description: joined(wireDescription(field), "Its name or uuid.", note) };
}

/** The property mirroring an API field of another unit (ms, a single element, …), with the field's description and type `type`. */
function wireAs(type: SchemaProperty, field: WireSchema, note?: string): SchemaProperty {
  return { ...type, description: joined(wireDescription(field), note) };
}

/** A property only the provider has. */
const own = (type: SchemaProperty, description: string): SchemaProperty => ({ ...type, description });
const STR: SchemaProperty = { type: "string" };
const INT: SchemaProperty = { type: "integer" };
const BOOL: SchemaProperty = { type: "boolean" };
const STRS: SchemaProperty = { type: "array", items: STR };
const typeRef = (name: string): SchemaProperty => ({ $ref: `#/types/vmbranch:index:${name}` });
const typeRefs = (name: string): SchemaProperty => ({ type: "array", items: typeRef(name) });

function joined(...parts: (string | undefined)[]): string {
  return parts.filter((p): p is string => p !== undefined && p !== "").join(" ");
}

// Inputs every resource has.
const NAME_NOTE = "When absent the provider chooses `<logical name>-<7 hex>` from the engine's seed and keeps it on every update.";
const TIMEOUTS = own(typeRef("Timeouts"), "Deadlines of create, update and delete; the resource option `customTimeouts` wins over them.");
const TRIGGERS = own({ type: "array", items: { $ref: "pulumi.json#/Any" } }, "Any values: when one changes (or is not known yet during a preview), the resource is replaced.");
const AUTO_NAMED = own(BOOL, "True when the provider chose `name`.");

const INSTANCE_INPUTS: Props = {
  name: wire(I.name, NAME_NOTE),
  image: wire(I.image),
  template: reference(I.template),
  branchFrom: reference(I.branch_from, "Typically another Instance's `name`."),
  checkpoint: reference(I.checkpoint, "Typically a Checkpoint's `name`."),
  memoryMb: wire(I.memory_mb),
  vcpus: wire(I.vcpus),
  args: wire(I.args),
  env: wire(I.env),
  volumes: wireAs(typeRefs("InstanceVolume"), I.volumes, "Attaching or detaching stops the instance meanwhile; a change to an inline volume replaces it. A branch takes copies of its source's volumes instead."),
  ports: wireAs(typeRefs("Port"), I.ports, "Updated while it runs; a host port the server chose is kept."),
  tags: wire(I.tags, "Compared as a set."),
  annotations: wire(I.annotations),
  deleteLock: wire(I.delete_lock, "Set it false before destroying or replacing the resource."),
  state: own(STR, "Lifecycle state to keep: `running` (default), `stopped` or `standby` (suspended with its memory)."),
  hostname: wire(I.hostname),
  outboundNetwork: wire(I.outbound_network, "A branch or template instance takes its source's when unset."),
  host: wire(I.host, "Reported back as placed when unset; changing it replaces the instance."),
  cloneOptions: own(typeRef("CloneOptions"), "What a branch or template instance copies from its source."),
  timeouts: TIMEOUTS,
  readiness: own(typeRef("Readiness"), "After `running` (at create, and whenever an update starts it), wait until GET `path` on the published `guestPort` answers 2xx or 3xx."),
  waitForExit: own(BOOL, "A one-shot job: create waits until the main process exits, and requires exit code 0; it then stays `stopped`. A job that did not succeed runs again on the next update."),
  triggers: TRIGGERS,
};

const BRANCH = BranchInfoSchema.shape;
const INSTANCE_COMPUTED: Props = {
  uuid: wire(OUT.uuid, "The resource's id."),
  autoNamed: AUTO_NAMED,
  hostState: wire(OUT.host_state, "`online` otherwise. As last seen; null from servers older than host failure."),
  publishedPorts: own(typeRefs("PublishedPort"), "Every published port as the server assigned it."),
  hostPorts: own({ type: "object", additionalProperties: INT }, "Host port per published guest port: keys `8080` for TCP, `53/udp` for UDP."),
  attachedVolumes: own(typeRefs("AttachedVolume"), "The volumes attached, as the server reports them."),
  macAddress: own(STR, "MAC address of eth0."),
  privateIp: own(STR, "The guest's address on its private network."),
  smbiosSerial: wire(OUT.smbios_serial),
  branchedFrom: own(STR, "Name of the instance this one was branched from."),
  branchedFromUuid: own(STR, "Uuid of the instance this one was branched from."),
  branchPhase: wire(BRANCH.phase, "Of a branch."),
  sourcePauseMs: wireAs(INT, BRANCH.source_pause_ms),
  snapshotAt: wire(BRANCH.snapshot_at),
  snapshotMs: wireAs(INT, BRANCH.snapshot_ms),
  restoreMs: wireAs(INT, BRANCH.restore_ms),
  bootTimeMs: wireAs(INT, OUT.boot_time_ms),
  createdAt: wire(OUT.created_at),
  startedAt: wire(OUT.started_at),
  exitCode: wire(OUT.exit_code),
  stopReason: wire(OUT.stop_reason),
  accelerator: wire(OUT.accelerator),
};

const SHARED_VOLUME_INPUTS: Props = { tags: wire(TagsSchema, "Compared as a set."), deleteLock: wire(V.delete_lock, "Set it false before destroying or replacing the resource."), timeouts: TIMEOUTS };

const VOLUME_INPUTS: Props = {
  name: wire(V.name, NAME_NOTE),
  sizeMb: wire(V.size_mb, "Growing it is an update (stop the instances using it first); a shrink fails the preview. Exactly one of sizeMb, template and hostPath."),
  filesystem: wire(V.filesystem),
  hostPath: wire(V.host_path, "It must let the group `vmbranch-qemu` in."),
  uid: wire(V.uid),
  gid: wire(V.gid),
  template: reference(V.template),
  host: wire(V.host, "Reported back as placed when unset; changing it replaces the volume."),
  ...SHARED_VOLUME_INPUTS,
};

const TEMPLATE_ITEM = VolumeTemplateItemSchema.shape;
const VOLUME_TEMPLATE_INPUTS: Props = {
  name: wire(TEMPLATE_ITEM.template_name, NAME_NOTE),
  sourceVolume: reference(TEMPLATE_ITEM.name, "Typically a Volume's `name`. Its current contents are frozen (a copy: the volume stays writable); freeze after the writes are done (`dependsOn` a `waitForExit` job)."),
  ...SHARED_VOLUME_INPUTS,
  triggers: TRIGGERS,
};

const VOLUME_CLONE_INPUTS: Props = {
  name: wire(VolumeCloneFields.vol_name, NAME_NOTE),
  source: own(STR, "The volume or volume template to copy (copy-on-write), by name or uuid. Create waits until the copy's data is ready."),
  host: wire(VolumeCloneFields.host, "Reported back as placed when unset; changing it replaces the clone."),
  ...SHARED_VOLUME_INPUTS,
  triggers: TRIGGERS,
};

const VOLUME_COMPUTED: Props = {
  uuid: wire(VOUT.uuid, "The resource's id."),
  autoNamed: AUTO_NAMED,
  state: wire(VOUT.state, "As last seen."),
  kind: wire(VOUT.kind),
  attachedTo: wireAs(STRS, VOUT.attached_to, "Their names, as last seen."),
  persistent: wire(VOUT.persistent),
  createdAt: wire(VOUT.created_at),
  hostState: wire(VOUT.host_state, "`online` otherwise. As last seen; null from servers older than host failure."),
};
const SIZE_AND_FS: Props = { sizeMb: own(INT, "Size in MiB."), filesystem: own(STR, "Filesystem.") };

const CP = CheckpointCreateItemSchema.shape;
const CP_INFO = CheckpointInfoSchema.shape;
const CHECKPOINT_INPUTS: Props = {
  name: wire(CP.name, NAME_NOTE),
  sourceInstance: reference(CP.from, "Typically an Instance's `name`; `dependsOn` what prepares it, so it is captured afterwards."),
  tags: wire(CP.tags, "Compared as a set."),
  deleteLock: wire(CP.delete_lock, "Set it false before destroying or replacing the resource."),
  autokillMs: wire(AutokillSchema.shape.time_ms),
  timeouts: TIMEOUTS,
  triggers: TRIGGERS,
};
const CHECKPOINT_COMPUTED: Props = {
  uuid: wire(OUT.uuid, "The resource's id."),
  autoNamed: AUTO_NAMED,
  state: own(STR, "`checkpoint` once captured."),
  hasMemory: wire(CP_INFO.has_memory),
  sourceInstanceUuid: own(STR, "Uuid of the instance it was captured from."),
  sourceInstanceName: own(STR, "Name of the instance it was captured from."),
  sourcePauseMs: wireAs(INT, CP_INFO.source_pause_ms),
  createdAt: wire(OUT.created_at),
  readyAt: wire(CP_INFO.ready_at),
  loads: wire(CP_INFO.loads, "At the last read."),
};

const VOL_SPEC = InstanceVolumeSpecSchema.shape;
const PORT = PortSpecSchema.shape;
const PUBLISHED = InstancePortSchema.shape;
const ATTACHED = InstanceVolumeSchema.shape;

/** The object types, by name (token `vmbranch:index:<name>`). */
const TYPES: Record<string, { description: string; properties: Props; required?: string[] }> = {
  InstanceVolume: {
    description: "A volume of an instance: an existing volume by name or uuid, or a new inline one (`sizeMb`) that lives and dies with it.",
    properties: {
      volume: own(STR, "Name or uuid of an existing volume (typically a Volume's `name`), or the name of a new inline volume."),
      sizeMb: wire(VOL_SPEC.size_mb),
      at: wire(VOL_SPEC.at),
      readonly: wire(VOL_SPEC.readonly),
    },
    required: ["at"],
  },
  Port: {
    description: "A guest port published on a host port of the vmbranch host (127.0.0.1).",
    properties: { guestPort: wire(PORT.guest_port), hostPort: wire(PORT.host_port), protocol: wire(PORT.protocol) },
    required: ["guestPort"],
  },
  CloneOptions: {
    description: "What a branch or template instance copies from its source (KubeVirt's clone options).",
    properties: {
      tagFilters: wire(I.tag_filters),
      annotationFilters: wire(I.annotation_filters),
      newMacAddresses: wire(I.new_mac_addresses),
      newSmbiosSerial: wire(I.new_smbios_serial),
    },
  },
  Readiness: {
    description: "An HTTP readiness check on a published port, run from where Pulumi runs.",
    properties: { guestPort: own(INT, "Published guest port to GET."), path: own(STR, "Path to GET (default `/`).") },
    required: ["guestPort"],
  },
  Timeouts: {
    description: "Deadlines as durations like `90s`, `5m`, `1h30m`; defaults 5m, 5m and 2m.",
    properties: { create: own(STR, "Deadline of create."), update: own(STR, "Deadline of update."), delete: own(STR, "Deadline of delete (the one stored at the last create or update).") },
  },
  PublishedPort: {
    description: "A published port as the server assigned it.",
    properties: { guestPort: wire(PUBLISHED.guest_port), hostPort: wire(PUBLISHED.host_port), hostIp: wire(PUBLISHED.host_ip), protocol: wire(PUBLISHED.protocol) },
  },
  AttachedVolume: {
    description: "A volume attached to an instance, as the server reports it.",
    properties: { uuid: wire(ATTACHED.uuid), name: wire(ATTACHED.name), at: wire(ATTACHED.at), readonly: wire(ATTACHED.readonly), inline: wire(ATTACHED.inline), kind: wire(ATTACHED.kind) },
  },
};

/** One of the instance's inputs, as a field of a component's type. */
function pick(props: Props, keys: readonly string[]): Props {
  return Object.fromEntries(keys.map((k) => [k, props[k]!]));
}

// The GoldenImage's job and instances take the Instance's inputs of the same names.
const MOUNT_AT = own(STR, "Where the guest sees the volume (default `/data`).");
const JOB_TYPE: Props = { ...pick(INSTANCE_INPUTS, ["image", "args", "env", "memoryMb", "vcpus"]), mountAt: MOUNT_AT, timeouts: own(typeRef("Timeouts"), "Deadlines of the job; `create` covers its whole run (default 5m).") };
const CLONE_INSTANCE_TYPE: Props = {
  ...pick(INSTANCE_INPUTS, ["image", "args", "env", "memoryMb", "vcpus", "ports", "readiness", "state", "annotations", "timeouts"]),
  mountAt: MOUNT_AT,
  readonly: own(BOOL, "Mount the clone read-only."),
};
TYPES.GoldenImageJob = {
  description: "The preparation job of a GoldenImage: an Instance with `waitForExit` and the golden volume mounted at `mountAt`; it must exit 0. A change to it bakes the image again.",
  properties: JOB_TYPE,
  required: ["args"],
};
TYPES.GoldenImageInstances = { description: "The instances of a GoldenImage, one per clone, each with its clone mounted at `mountAt`.", properties: CLONE_INSTANCE_TYPE };

const resourceRef = (token: string): SchemaProperty => ({ $ref: `#/resources/vmbranch:index:${token}` });
const resourceRefs = (token: string): SchemaProperty => ({ type: "array", items: resourceRef(token) });

/** One component of the package (declared by the plugin's Construct, provider/plugin/components.ts). */
export interface ComponentSpec {
  description: string;
  inputs: Props;
  outputs: Props;
  required: string[];
  requiredInputs: string[];
  example: string;
}

/** The package's components by type token; their outputs are the ones provider/plugin/components.ts answers with (a unit test keeps them equal). */
export const COMPONENTS: Record<string, ComponentSpec> = {
  "vmbranch:index:GoldenImage": {
    description:
      "A golden-image pipeline as one component: a preparation job (an Instance with `waitForExit`) writes a fresh volume, a VolumeTemplate freezes it once the job exited 0, `clones` VolumeClones copy it, and with `instances` one Instance per clone mounts its copy. Each stage has the previous stage's uuid in its `triggers`, so a change to the job (or to `triggers`) bakes again: one replace chain of job, template, clones and instances. Its resources are named `<name>-prepare`, `<name>-template`, `<name>-clone-<i>` and `<name>-<i>`.",
    inputs: {
      sizeMb: own(INT, "Size of the golden volume in MiB (ext4), which the job writes."),
      prepare: own(typeRef("GoldenImageJob"), "The preparation job."),
      clones: { ...own(INT, "How many clones of the template (default 0). A plain number: it decides how many resources the pipeline has."), plain: true },
      instances: own(typeRef("GoldenImageInstances"), "One instance per clone, with the clone mounted; leave out for clones only."),
      tags: own(STRS, "Tags on every resource of the pipeline."),
      triggers: own({ type: "array", items: { $ref: "pulumi.json#/Any" } }, "Any values: when one changes, the image is baked again (a new job, template, clones and instances)."),
    },
    outputs: {
      job: own(resourceRef("Instance"), "The preparation job (stopped after it succeeded)."),
      template: own(resourceRef("VolumeTemplate"), "The template frozen from the job's volume."),
      volumeClones: own(resourceRefs("VolumeClone"), "The clones, in order."),
      cloneInstances: own(resourceRefs("Instance"), "The instances, one per clone (none without `instances`)."),
      jobName: own(STR, "The job's API name."),
      jobUuid: own(STR, "The job's uuid."),
      goldenVolume: own(STR, "Name of the job's volume, which the template froze."),
      templateName: own(STR, "The template's API name (to clone it elsewhere)."),
      templateUuid: own(STR, "The template's uuid."),
      cloneNames: own(STRS, "The clones' API names, in order."),
      cloneUuids: own(STRS, "The clones' uuids, in order."),
      instanceNames: own(STRS, "The instances' API names, in order."),
      instanceUuids: own(STRS, "The instances' uuids, in order."),
    },
    required: ["job", "template", "volumeClones", "cloneInstances", "jobName", "jobUuid", "goldenVolume", "templateName", "templateUuid", "cloneNames", "cloneUuids", "instanceNames", "instanceUuids"],
    requiredInputs: ["sizeMb", "prepare"],
    example: `${"resources:\n"}  site:
    type: vmbranch:index:GoldenImage
    properties:
      sizeMb: 16
      prepare:
        args: ["sh", "-c", "echo golden > /data/index.html"]
      clones: 2
      instances:
        args: ["sh", "-c", "exec httpd -f -p 8080 -h /data"]
        ports: [{ guestPort: 8080 }]
outputs:
  firstPort: \${site.cloneInstances[0].hostPorts["8080"]}
  template: \${site.templateName}
`,
  },
};

/** One resource of the package. */
export interface ResourceSpec {
  description: string;
  inputs: Props;
  computed: Props;
  /** The impl's inputs whose change replaces the resource. */
  replaces: readonly string[];
  /** The impl's inputs updated in place (or only stored). */
  updates: readonly string[];
  /** A Pulumi YAML program using it (the registry's example). */
  example: string;
}

const YAML_EXAMPLE_HEAD = "resources:\n";

/** The package's resources by type token. */
export const RESOURCES: Record<string, ResourceSpec> = {
  "vmbranch:index:Instance": {
    description: "A VM of `vmbranch serve`: booted from an image, an instance template or a checkpoint, or branched from another running instance (a copy of its memory and disks that continues where it was).",
    inputs: INSTANCE_INPUTS,
    computed: INSTANCE_COMPUTED,
    replaces: INSTANCE_REPLACE_FIELDS,
    updates: INSTANCE_UPDATE_FIELDS,
    example: `${YAML_EXAMPLE_HEAD}  web:
    type: vmbranch:index:Instance
    properties:
      image: base
      args: ["sh", "-c", "exec httpd -f -p 8080 -h /www"]
      ports: [{ guestPort: 8080 }]
  webBranch:
    type: vmbranch:index:Instance
    properties:
      branchFrom: \${web.name}
outputs:
  branchPort: \${webBranch.hostPorts["8080"]}
`,
  },
  "vmbranch:index:Volume": {
    description: "A persistent volume: an ext4 block volume, a copy of a volume template, or a managed host directory.",
    inputs: VOLUME_INPUTS,
    computed: VOLUME_COMPUTED,
    replaces: VOLUME_REPLACE_FIELDS,
    updates: VOLUME_UPDATE_FIELDS,
    example: `${YAML_EXAMPLE_HEAD}  data:
    type: vmbranch:index:Volume
    properties:
      sizeMb: 64
  db:
    type: vmbranch:index:Instance
    properties:
      image: base
      args: ["sh", "-c", "exec sleep infinity"]
      volumes: [{ volume: \${data.name}, at: /data }]
`,
  },
  "vmbranch:index:VolumeTemplate": {
    description: "An immutable template frozen from a volume's current contents (the volume stays writable). It cannot be deleted while volumes cloned from it exist.",
    inputs: VOLUME_TEMPLATE_INPUTS,
    computed: { ...without(VOLUME_COMPUTED, ["attachedTo"]), ...SIZE_AND_FS, sourceVolumeUuid: own(STR, "Uuid of the volume it was frozen from."), sourceVolumeName: own(STR, "Name of the volume it was frozen from.") },
    replaces: VOLUME_TEMPLATE_REPLACE_FIELDS,
    updates: VOLUME_TEMPLATE_UPDATE_FIELDS,
    example: `${YAML_EXAMPLE_HEAD}  golden:
    type: vmbranch:index:VolumeTemplate
    properties:
      sourceVolume: \${data.name}
    options:
      dependsOn: [\${prepare}]
`,
  },
  "vmbranch:index:VolumeClone": {
    description: "A copy-on-write copy of a volume or a volume template.",
    inputs: VOLUME_CLONE_INPUTS,
    computed: { ...VOLUME_COMPUTED, ...SIZE_AND_FS, sourceUuid: own(STR, "Uuid of the source."), sourceName: own(STR, "Name of the source."), template: own(STR, "The template it copies, when the source is one.") },
    replaces: VOLUME_CLONE_REPLACE_FIELDS,
    updates: VOLUME_CLONE_UPDATE_FIELDS,
    example: `${YAML_EXAMPLE_HEAD}  work:
    type: vmbranch:index:VolumeClone
    properties:
      source: \${golden.name}
      triggers: [\${golden.uuid}]
`,
  },
  "vmbranch:index:Checkpoint": {
    description: "A named restore point of an instance: its memory (when it runs or is in standby) and its block volumes at one instant. Instances load it with `checkpoint`, as often as wanted, each continuing on volumes of its own.",
    inputs: CHECKPOINT_INPUTS,
    computed: CHECKPOINT_COMPUTED,
    replaces: CHECKPOINT_REPLACE_FIELDS,
    updates: CHECKPOINT_UPDATE_FIELDS,
    example: `${YAML_EXAMPLE_HEAD}  seeded:
    type: vmbranch:index:Checkpoint
    properties:
      sourceInstance: \${db.name}
  tryA:
    type: vmbranch:index:Instance
    properties:
      checkpoint: \${seeded.name}
`,
  },
};

const LOOKUP_INPUTS: Props = { name: own(STR, "Name of the object (or give uuid)."), uuid: own(STR, "Uuid of the object (or give name).") };

function without(props: Props, keys: readonly string[]): Props {
  return Object.fromEntries(Object.entries(props).filter(([k]) => !keys.includes(k)));
}

/** The package's functions by token: what each returns. */
export const FUNCTIONS: Record<string, { description: string; outputs: Props }> = {
  "vmbranch:index:getInstance": {
    description: "An existing instance, by name or uuid, not managed by the program.",
    outputs: { ...without(INSTANCE_INPUTS, ["timeouts", "readiness", "waitForExit", "triggers", "branchFrom", "cloneOptions", "volumes", "ports"]), ...without(INSTANCE_COMPUTED, ["autoNamed"]) },
  },
  "vmbranch:index:getVolume": {
    description: "An existing volume (or clone), by name or uuid.",
    outputs: { ...without(VOLUME_INPUTS, ["timeouts"]), ...without(VOLUME_COMPUTED, ["autoNamed"]), sourceName: own(STR, "Name of the volume or template it was cloned from."), sourceUuid: own(STR, "Uuid of the volume or template it was cloned from.") },
  },
  "vmbranch:index:getVolumeTemplate": {
    description: "An existing volume template, by name or uuid.",
    outputs: {
      uuid: wire(VOUT.uuid),
      name: own(STR, "Name."),
      ...SIZE_AND_FS,
      sourceVolumeName: own(STR, "Name of the volume it was frozen from."),
      sourceVolumeUuid: own(STR, "Uuid of the volume it was frozen from."),
      tags: wire(TagsSchema),
      deleteLock: wire(V.delete_lock),
      clones: own(STRS, "Volumes cloned from it."),
      createdAt: wire(VOUT.created_at),
    },
  },
};

const CONFIG: Props = {
  endpoint: own(STR, "URL of `vmbranch serve` (default `http://127.0.0.1:7480`); the environment variable VMBRANCH_ENDPOINT wins."),
  token: { ...own(STR, "API token of `vmbranch serve`; the environment variable VMBRANCH_TOKEN wins, then the token file of a local server."), secret: true },
};

/** Go import path of the generated Go SDK (`pulumi package gen-sdk --language go`). */
export const GO_IMPORT_BASE_PATH = "github.com/vmbranch/vmbranch/sdk/go/vmbranch";

/** An input's description with what a change of it does, from the impl's tables. */
function withChange(prop: SchemaProperty, field: string, spec: ResourceSpec): SchemaProperty {
  const change = spec.replaces.includes(field) ? "Changing it replaces the resource." : field === "timeouts" ? "A change is an update that only stores it." : "Changes are applied in place.";
  return { ...prop, description: joined(prop.description, change) };
}

/** A component's documentation: overview and example (a component is not imported; its resources are). */
function componentDoc(token: string, spec: ComponentSpec): string {
  const name = token.split(":").pop() ?? token;
  return [spec.description, "", "{{% examples %}}", "## Example Usage", "{{% example %}}", `### A ${name} in Pulumi YAML`, "", "```yaml", spec.example.trimEnd(), "```", "{{% /example %}}", "{{% /examples %}}", ""].join("\n");
}

/** A resource's documentation as the Pulumi registry reads it: overview, examples, import. */
function resourceDoc(token: string, spec: ResourceSpec): string {
  const name = token.split(":").pop() ?? token;
  const lower = name.charAt(0).toLowerCase() + name.slice(1);
  return [
    spec.description,
    "",
    "{{% examples %}}",
    "## Example Usage",
    "{{% example %}}",
    `### A ${name} in Pulumi YAML`,
    "",
    "```yaml",
    spec.example.trimEnd(),
    "```",
    "{{% /example %}}",
    "{{% /examples %}}",
    "",
    "## Import",
    "",
    `An existing ${lower} is imported by its uuid; its inputs are read from the server, so a preview afterwards shows no changes:`,
    "",
    "```sh",
    `$ pulumi import ${token} ${lower} 3f1c0d2e-0000-4000-8000-000000000000`,
    "```",
    "",
  ].join("\n");
}

/** The package schema for plugin version `version`, as `GetSchema` serves it. */
export function packageSchema(version: string): Record<string, unknown> {
  const resources: Record<string, Record<string, unknown>> = Object.fromEntries(
    Object.entries(RESOURCES).map(([token, r]) => {
      const inputs = Object.fromEntries(Object.entries(r.inputs).map(([k, p]) => [k, withChange(p, k, r)]));
      return [token, { description: resourceDoc(token, r), inputProperties: inputs, properties: { ...inputs, ...r.computed }, required: ["name", "uuid"] }];
    }),
  );
  for (const [token, c] of Object.entries(COMPONENTS)) {
    resources[token] = { description: componentDoc(token, c), isComponent: true, inputProperties: c.inputs, requiredInputs: c.requiredInputs, properties: c.outputs, required: c.required };
  }
  const functions = Object.fromEntries(
    Object.entries(FUNCTIONS).map(([token, f]) => [token, { description: f.description, inputs: { properties: LOOKUP_INPUTS }, outputs: { properties: f.outputs, required: ["uuid", "name"] } }]),
  );
  return {
    name: "vmbranch",
    displayName: "vmbranch",
    version,
    description: "Branch running QEMU virtual machines from infrastructure code: instances, checkpoints, volumes, volume templates and clones of `vmbranch serve`.",
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
