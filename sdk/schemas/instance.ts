/**
 * Instance wire contract: create request (with the branching and template combination rules),
 * the instance object, lifecycle requests and the PATCH operations. Zod only.
 */
import { z } from "zod";
import {
  AnnotationsSchema,
  NameSchema,
  RefOutSchema,
  RefSchema,
  TagSchema,
  TagsSchema,
  TimestampSchema,
  UuidSchema,
  oneOrMany,
} from "./common";
import { FiltersSchema } from "./filters";
import { BRANCH_INHERITED_FIELDS, CLONE_OPTION_FIELDS, messages } from "./messages";
import { MountPathSchema, VolumeFilesystemSchema, HostPathSchema } from "./volume";

/** Instance states (DESIGN.md §3). */
export const InstanceStateSchema = z.enum([
  "stopped",
  "starting",
  "running",
  "stopping",
  "standby",
  "template",
  "deleted",
  "error",
]);
export type InstanceState = z.infer<typeof InstanceStateSchema>;

/** Phases of a branch, after KubeVirt's clone phases (DESIGN.md §3.1). */
export const BranchPhaseSchema = z.enum(["SnapshotInProgress", "CreatingTarget", "RestoreInProgress", "Succeeded", "Failed"]);
export type BranchPhase = z.infer<typeof BranchPhaseSchema>;

/** A volume in a create request: an existing one by uuid/name, or a new inline one with size_mb or host_path. */
export const InstanceVolumeSpecSchema = z
  .strictObject({
    uuid: UuidSchema.optional(),
    name: NameSchema.optional(),
    size_mb: z.number().int().min(1).max(4 * 1024 * 1024).optional(),
    filesystem: VolumeFilesystemSchema.optional(),
    host_path: HostPathSchema.optional(),
    uid: z.number().int().min(0).max(4294967294).optional(),
    gid: z.number().int().min(0).max(4294967294).optional(),
    at: MountPathSchema,
    readonly: z.boolean().optional(),
  })
  .superRefine((v, ctx) => {
    const creates = v.size_mb !== undefined || v.host_path !== undefined;
    if (v.uuid !== undefined && creates)
      ctx.addIssue({ code: "custom", message: "An existing volume given by 'uuid' cannot also set 'size_mb' or 'host_path'" });
    if (!creates && v.uuid === undefined && v.name === undefined)
      ctx.addIssue({ code: "custom", message: "A volume needs 'uuid' or 'name' of an existing volume, or 'size_mb' or 'host_path' for a new one" });
    if (v.size_mb !== undefined && v.host_path !== undefined)
      ctx.addIssue({ code: "custom", message: messages.hostPathExclusive("size_mb") });
    if (!creates && (v.filesystem !== undefined || v.uid !== undefined || v.gid !== undefined))
      ctx.addIssue({ code: "custom", message: "'filesystem', 'uid' and 'gid' apply only to a new volume" });
  });
export type InstanceVolumeSpec = z.infer<typeof InstanceVolumeSpecSchema>;

/** A published port: guest TCP/UDP port forwarded from a host port on 127.0.0.1 (chosen when absent). */
export const PortSpecSchema = z.strictObject({
  guest_port: z.number().int().min(1).max(65535),
  host_port: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(["tcp", "udp"]).optional(),
});
export type PortSpec = z.infer<typeof PortSpecSchema>;

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** True for a unicast MAC address written as six colon-separated octets. */
export function isUnicastMac(mac: string): boolean {
  return MAC_RE.test(mac) && (parseInt(mac.slice(0, 2), 16) & 1) === 0;
}

/** Environment variable names as a POSIX shell accepts them. */
export const EnvSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names must match [A-Za-z_][A-Za-z0-9_]*"),
  z.string().max(65536),
);

const CreateFieldsSchema = z.strictObject({
  name: NameSchema.optional(),
  image: z.string().min(1).max(128).optional(),
  template: RefSchema.optional(),
  branch_from: RefSchema.optional(),
  memory_mb: z.number().int().min(32).max(65536).optional(),
  vcpus: z.number().int().min(1).max(64).optional(),
  args: z.array(z.string().max(65536)).max(4096).optional(),
  env: EnvSchema.optional(),
  volumes: z.array(InstanceVolumeSpecSchema).max(16).optional(),
  ports: z.array(PortSpecSchema).max(32).optional(),
  autostart: z.boolean().optional(),
  hostname: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, "must be a valid host name").optional(),
  tags: TagsSchema.optional(),
  annotations: AnnotationsSchema.optional(),
  delete_lock: z.boolean().optional(),
  tag_filters: FiltersSchema.optional(),
  annotation_filters: FiltersSchema.optional(),
  new_mac_addresses: z.record(z.string().min(1).max(15), z.string()).optional(),
  new_smbios_serial: z.string().min(1).max(64).optional(),
});

/** One refusal of a field combination: which field and the exact message. */
export interface CombinationIssue {
  field: string;
  message: string;
}

/**
 * The combination rules of an instance create request, in the order the API reports them.
 * `present(field)` says whether the caller set a field; unknown values (preview) count as set.
 */
export function instanceCreateCombinationIssues(present: (field: string) => boolean): CombinationIssue[] {
  const issues: CombinationIssue[] = [];
  const branch = present("branch_from");
  const template = present("template");
  if (branch && template) issues.push({ field: "branch_from", message: messages.branchWithTemplate });
  if (branch && present("image")) issues.push({ field: "image", message: messages.branchWithImage });
  if (branch) {
    for (const f of BRANCH_INHERITED_FIELDS) if (present(f)) issues.push({ field: f, message: messages.branchInherited(f) });
  }
  if (template && !branch) {
    if (present("image")) issues.push({ field: "image", message: messages.templateWithImage });
    for (const f of BRANCH_INHERITED_FIELDS) if (present(f)) issues.push({ field: f, message: messages.templateInherited(f) });
  }
  if (!branch && !template) {
    if (!present("image")) issues.push({ field: "image", message: messages.missingSource });
    for (const f of CLONE_OPTION_FIELDS) if (present(f)) issues.push({ field: f, message: messages.cloneOptionWithoutSource(f) });
  }
  return issues;
}

/** Field-level checks of clone options that need no server state (MAC syntax). */
export function cloneOptionIssues(req: { new_mac_addresses?: Record<string, string> }): CombinationIssue[] {
  const issues: CombinationIssue[] = [];
  for (const [iface, mac] of Object.entries(req.new_mac_addresses ?? {}))
    if (!isUnicastMac(mac)) issues.push({ field: "new_mac_addresses", message: messages.badMac(iface, mac) });
  return issues;
}

/** `POST /v1/instances` body. Combination errors carry the reference's exact messages. */
export const InstanceCreateRequestSchema = CreateFieldsSchema.superRefine((req, ctx) => {
  const r = req as Record<string, unknown>;
  const issues = [
    ...instanceCreateCombinationIssues((f) => r[f] !== undefined),
    ...cloneOptionIssues(req),
  ];
  for (const i of issues) ctx.addIssue({ code: "custom", message: i.message, path: [i.field] });
});
export type InstanceCreateRequest = z.infer<typeof InstanceCreateRequestSchema>;

/** A volume as an instance reports it. */
export const InstanceVolumeSchema = z.object({
  uuid: UuidSchema,
  name: z.string(),
  at: z.string(),
  readonly: z.boolean(),
  kind: z.enum(["block", "managed"]),
  inline: z.boolean(),
});

/** A published port with the host side it got. */
export const InstancePortSchema = z.object({
  guest_port: z.number().int(),
  host_port: z.number().int(),
  host_ip: z.string(),
  protocol: z.enum(["tcp", "udp"]),
});
export type InstancePort = z.infer<typeof InstancePortSchema>;

/** Where a branch came from and how its creation went. */
export const BranchInfoSchema = z.object({
  source: RefOutSchema,
  snapshot_uuid: UuidSchema.nullable(),
  snapshot_at: TimestampSchema.nullable(),
  source_pause_ms: z.number().nullable(),
  /** From the snapshot's instant until its memory copy was complete (running sources). */
  snapshot_ms: z.number().nullable(),
  /** From the completed snapshot until the branch ran. */
  restore_ms: z.number().nullable(),
  phase: BranchPhaseSchema,
  from_memory: z.boolean(),
  message: z.string().nullable(),
});
export type BranchInfo = z.infer<typeof BranchInfoSchema>;

/** The instance object. Nullable fields are always present so clients see a stable shape. */
export const InstanceSchema = z.object({
  uuid: UuidSchema,
  name: z.string(),
  state: InstanceStateSchema,
  image: z.string(),
  memory_mb: z.number().int(),
  vcpus: z.number().int(),
  args: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  hostname: z.string(),
  volumes: z.array(InstanceVolumeSchema),
  ports: z.array(InstancePortSchema),
  network_interfaces: z.array(z.object({ name: z.string(), mac: z.string(), private_ip: z.string() })),
  smbios_serial: z.string(),
  tags: z.array(z.string()),
  annotations: z.record(z.string(), z.string()),
  delete_lock: z.boolean(),
  autostart: z.boolean(),
  created_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  stopped_at: TimestampSchema.nullable(),
  boot_time_ms: z.number().nullable(),
  exit_code: z.number().int().nullable(),
  stop_reason: z.string().nullable(),
  start_count: z.number().int(),
  accelerator: z.enum(["kvm", "tcg"]).nullable(),
  snapshot: z.object({ uuid: UuidSchema, created_at: TimestampSchema, has_memory: z.boolean() }).nullable(),
  template: RefOutSchema.nullable(),
  branch: BranchInfoSchema.nullable(),
});
export type Instance = z.infer<typeof InstanceSchema>;

/** `PUT /v1/instances/{id}/stop` body. */
export const InstanceStopRequestSchema = z.strictObject({
  force: z.boolean().optional(),
  timeout_s: z.number().min(0).max(3600).optional(),
});
export type InstanceStopRequest = z.infer<typeof InstanceStopRequestSchema>;

/** `GET /v1/instances/{id}/wait` query. */
export const InstanceWaitQuerySchema = z.strictObject({
  state: InstanceStateSchema,
  timeout_s: z.coerce.number().min(0).max(3600).optional(),
});

/** `GET /v1/instances/{id}/log` query: byte offset and limit into the serial console log. */
export const InstanceLogQuerySchema = z.strictObject({
  offset: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(4 * 1024 * 1024).optional(),
});

/** Serial console output of an instance. */
export const InstanceLogSchema = z.object({
  uuid: UuidSchema,
  name: z.string(),
  output: z.string(),
  offset: z.number().int(),
  next_offset: z.number().int(),
  available: z.number().int(),
});
export type InstanceLog = z.infer<typeof InstanceLogSchema>;

const VolumeAttachValueSchema = z.strictObject({
  uuid: UuidSchema.optional(),
  name: NameSchema.optional(),
  at: MountPathSchema,
  readonly: z.boolean().optional(),
});

/** One PATCH operation on an instance (a union on `prop`, then on `op`, so errors name the right value). */
export const InstancePatchOpSchema = z.discriminatedUnion("prop", [
  z.discriminatedUnion("op", [
    z.strictObject({ prop: z.literal("tags"), op: z.literal("set"), value: TagsSchema }),
    z.strictObject({ prop: z.literal("tags"), op: z.enum(["add", "del"]), value: oneOrMany(TagSchema) }),
  ]),
  z.discriminatedUnion("op", [
    z.strictObject({ prop: z.literal("annotations"), op: z.enum(["set", "add"]), value: AnnotationsSchema }),
    z.strictObject({ prop: z.literal("annotations"), op: z.literal("del"), value: oneOrMany(z.string()) }),
  ]),
  z.strictObject({ prop: z.literal("delete_lock"), op: z.literal("set"), value: z.boolean() }),
  z.discriminatedUnion("op", [
    z.strictObject({ prop: z.literal("volumes"), op: z.literal("add"), value: VolumeAttachValueSchema }),
    z.strictObject({ prop: z.literal("volumes"), op: z.literal("del"), value: z.union([RefSchema, z.string()]) }),
  ]),
  z.discriminatedUnion("op", [
    z.strictObject({ prop: z.literal("ports"), op: z.literal("set"), value: z.array(PortSpecSchema).max(32) }),
    z.strictObject({ prop: z.literal("ports"), op: z.literal("add"), value: oneOrMany(PortSpecSchema) }),
    z.strictObject({ prop: z.literal("ports"), op: z.literal("del"), value: oneOrMany(z.number().int().min(1).max(65535)) }),
  ]),
]);
export type InstancePatchOp = z.infer<typeof InstancePatchOpSchema>;

/** `PATCH /v1/instances/{id}` body: one operation or a list. */
export const InstancePatchRequestSchema = oneOrMany(InstancePatchOpSchema);

/** `POST /v1/instances/templates` body: instances to convert, by uuid or name. */
export const InstanceTemplateCreateRequestSchema = oneOrMany(RefSchema);
