/**
 * Instance wire contract: create request (with the branching and template combination rules),
 * the instance object, lifecycle requests and the PATCH operations. Zod only.
 */
import { z } from "zod";
import {
  HostStateSchema,
  AnnotationsSchema,
  NameSchema,
  RefOutSchema,
  RefSchema,
  TagSchema,
  PatchIdSchema,
  TagsSchema,
  TimestampSchema,
  UuidSchema,
  oneOrMany,
} from "./common";
import { FiltersSchema } from "./filters";
import { BRANCH_INHERITED_FIELDS, CLONE_OPTION_FIELDS, messages } from "./messages";
import { MountPathSchema, VolumeFilesystemSchema, HostPathSchema } from "./volume";

/** Instance states (docs/api.md, "The instance object"); `checkpoint` is the state of a ready checkpoint. */
export const InstanceStateSchema = z.enum([
  "stopped",
  "starting",
  "running",
  "stopping",
  "standby",
  "template",
  "checkpoint",
  "deleted",
  "error",
]);
export type InstanceState = z.infer<typeof InstanceStateSchema>;

/** Phases of a branch, after KubeVirt's clone phases (docs/api.md, "Branching"). */
export const BranchPhaseSchema = z.enum(["SnapshotInProgress", "CreatingTarget", "RestoreInProgress", "Succeeded", "Failed"]);
export type BranchPhase = z.infer<typeof BranchPhaseSchema>;

/** A volume in a create request: an existing one by uuid/name, or a new inline one with size_mb or host_path. */
export const InstanceVolumeSpecSchema = z
  .strictObject({
    uuid: UuidSchema.optional(),
    name: NameSchema.optional(),
    size_mb: z.number().int().min(1).max(4 * 1024 * 1024).describe("Size in MiB of a new inline block volume that lives and dies with the instance.").optional(),
    filesystem: VolumeFilesystemSchema.optional(),
    host_path: HostPathSchema.optional(),
    uid: z.number().int().min(0).max(4294967294).optional(),
    gid: z.number().int().min(0).max(4294967294).optional(),
    at: MountPathSchema.describe("Absolute mount path inside the guest (not `/`)."),
    readonly: z.boolean().describe("Mount read-only; read-only mounts of one volume may be shared by many instances.").optional(),
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
  guest_port: z.number().int().min(1).max(65535).describe("Port inside the guest."),
  host_port: z.number().int().min(1).max(65535).describe("Fixed host port on 127.0.0.1; chosen by the server (and kept across restarts) when absent.").optional(),
  protocol: z.enum(["tcp", "udp"]).describe("`tcp` (default) or `udp`.").optional(),
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

/** Most branches one request makes from one snapshot. */
export const MAX_BRANCH_COUNT = 32;

const CreateFieldsSchema = z.strictObject({
  name: NameSchema.describe("Name of the instance, unique on the server.").optional(),
  image: z.string().min(1).max(128).describe("Guest image to boot (e.g. `base`). Exactly one of image, template, checkpoint and branch_from.").optional(),
  template: RefSchema.describe("Instance template to instantiate (its memory size, CPUs, arguments and volumes).").optional(),
  branch_from: RefSchema.describe("Instance to branch: a copy-on-write copy of its running memory and disks, which continues where it was.").optional(),
  checkpoint: RefSchema.describe("Checkpoint to load: the guest continues from the captured instant, on volumes of its own.").optional(),
  memory_mb: z.number().int().min(32).max(65536).describe("Memory in MiB (default 128; a branch or template instance inherits it).").optional(),
  vcpus: z.number().int().min(1).max(64).describe("Virtual CPUs (default 1; a branch or template instance inherits them).").optional(),
  args: z.array(z.string().max(65536)).max(4096).describe("The guest's main process and its arguments.").optional(),
  env: EnvSchema.describe("Environment variables of the main process.").optional(),
  volumes: z.array(InstanceVolumeSpecSchema).max(16).describe("Volumes to mount: existing ones, or new inline ones.").optional(),
  ports: z.array(PortSpecSchema).max(32).describe("Guest ports published on 127.0.0.1 of the vmbranch host.").optional(),
  autostart: z.boolean().optional(),
  /** Let the guest open connections beyond the host (never to the host itself). Default false: isolated. */
  outbound_network: z.boolean().describe("Let the guest open connections beyond the host (never to the host itself). Default false: isolated, reachable only through its published ports.").optional(),
  hostname: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, "must be a valid host name").describe("The guest's host name.").optional(),
  tags: TagsSchema.optional(),
  annotations: AnnotationsSchema.optional(),
  delete_lock: z.boolean().describe("While true the API refuses to delete it. Default false.").optional(),
  host: NameSchema.describe("Host to run it on (`GET /v1/hosts`); default: where its volumes are, else beside its source (branch, template, checkpoint) unless that host is short of memory for it, else the online host with the most free memory. On another host than its source's, what it needs of the source (disk layers, memory image) is sent there.").optional(),
  tag_filters: FiltersSchema.describe("Which of the source's tags a branch or template instance copies: `*` only at the end, `!` only at the start; default all.").optional(),
  annotation_filters: FiltersSchema.describe("Which of the source's annotations a branch or template instance copies (same grammar as tag filters).").optional(),
  new_mac_addresses: z.record(z.string().min(1).max(15), z.string()).describe("A new MAC address per network interface (`eth0`), for a cold clone.").optional(),
  new_smbios_serial: z.string().min(1).max(64).describe("A new SMBIOS serial number.").optional(),
  count: z
    .number()
    .int()
    .min(1)
    .max(MAX_BRANCH_COUNT)
    .describe(
      `Branches to make at once (default 1, at most ${MAX_BRANCH_COUNT}): all start from one snapshot of the source, of one instant, and a running source pauses once for all of them. With \`name\`, they are named \`<name>-1\` … \`<name>-<count>\`.`,
    )
    .optional(),
  quiesce: z
    .enum(["auto", "off"])
    .describe("A branch of a running source: `auto` (default) lets the guest agent freeze the source's volumes for the snapshot when it answers (a shorter pause, clean filesystem layers); `off` switches the disks inside a pause of the source.")
    .optional(),
  /** Wait up to this long for the new instance to be `running` before answering (0: do not wait). */
  timeout_s: z.number().int().min(0).max(3600).optional(),
  /** Unikraft Cloud's older spelling of `timeout_s`, in milliseconds (rounded up to seconds). */
  wait_timeout_ms: z.number().int().min(0).max(3_600_000).optional(),
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
  const checkpoint = present("checkpoint");
  if (branch && template) issues.push({ field: "branch_from", message: messages.branchWithTemplate });
  if (checkpoint) {
    for (const f of ["branch_from", "template"] as const) if (present(f)) issues.push({ field: f, message: messages.checkpointConflict(f) });
  }
  if (branch && present("image")) issues.push({ field: "image", message: messages.branchWithImage });
  if (!branch && present("quiesce")) issues.push({ field: "quiesce", message: messages.quiesceWithoutBranch });
  if (!branch && present("count")) issues.push({ field: "count", message: messages.countWithoutBranch });
  if (branch) {
    for (const f of BRANCH_INHERITED_FIELDS) if (present(f)) issues.push({ field: f, message: messages.branchInherited(f) });
  }
  if (template && !branch) {
    if (present("image")) issues.push({ field: "image", message: messages.templateWithImage });
    for (const f of BRANCH_INHERITED_FIELDS) if (present(f)) issues.push({ field: f, message: messages.templateInherited(f) });
  }
  if (checkpoint && !branch && !template) {
    for (const f of ["image", ...BRANCH_INHERITED_FIELDS] as const) if (present(f)) issues.push({ field: f, message: messages.checkpointConflict(f) });
  }
  if (!branch && !template && !checkpoint) {
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
  if ((req.count ?? 1) > 1) {
    if (req.name !== undefined && `${req.name}-${req.count}`.length > 63) issues.push({ field: "name", message: messages.countNameTooLong(req.name, req.count!) });
    for (const f of ["new_mac_addresses", "new_smbios_serial"] as const) if (req[f] !== undefined) issues.push({ field: f, message: messages.countWithIdentity(f) });
    if (req.ports?.some((p) => p.host_port !== undefined)) issues.push({ field: "ports", message: messages.countWithHostPort });
  }
  if (req.autostart === false && ((req.timeout_s ?? 0) > 0 || (req.wait_timeout_ms ?? 0) > 0))
    issues.push({ field: req.timeout_s !== undefined ? "timeout_s" : "wait_timeout_ms", message: messages.timeoutNeedsAutostart });
  for (const i of issues) ctx.addIssue({ code: "custom", message: i.message, path: [i.field] });
});
export type InstanceCreateRequest = z.infer<typeof InstanceCreateRequestSchema>;

/** A volume as an instance reports it. */
export const InstanceVolumeSchema = z.object({
  uuid: UuidSchema.describe("The volume's uuid."),
  name: z.string().describe("The volume's name."),
  at: z.string().describe("Mount path inside the guest."),
  readonly: z.boolean().describe("Mounted read-only."),
  kind: z.enum(["block", "managed"]).describe("`block` (an ext4 disk) or `managed` (a host directory)."),
  inline: z.boolean().describe("True when it lives and dies with the instance."),
});

/** A published port with the host side it got. */
export const InstancePortSchema = z.object({
  guest_port: z.number().int().describe("Port inside the guest."),
  host_port: z.number().int().describe("Host port it is published on."),
  host_ip: z.string().describe("Host address it is published on (127.0.0.1)."),
  protocol: z.enum(["tcp", "udp"]).describe("`tcp` or `udp`."),
});
export type InstancePort = z.infer<typeof InstancePortSchema>;

/** Where a branch came from and how its creation went. */
export const BranchInfoSchema = z.object({
  source: RefOutSchema,
  snapshot_uuid: UuidSchema.nullable(),
  snapshot_at: TimestampSchema.describe("When the branch's snapshot was taken.").nullable(),
  source_pause_ms: z.number().describe("How long the source paused for the branch's snapshot, in ms.").nullable(),
  /** From the snapshot's instant until its memory copy was complete (running sources). */
  snapshot_ms: z.number().describe("From the snapshot's instant until its memory copy was complete, in ms.").nullable(),
  /** From the completed snapshot until the branch ran. */
  restore_ms: z.number().describe("From the completed snapshot until the branch ran, in ms.").nullable(),
  phase: BranchPhaseSchema.describe("`SnapshotInProgress`, `CreatingTarget`, `RestoreInProgress`, `Succeeded` or `Failed`."),
  from_memory: z.boolean(),
  /**
   * True when the guest agent froze the source's volumes for the snapshot (their frozen layers are
   * clean filesystems, and the source paused only for QEMU's capture); false when the disks
   * switched inside a pause, or there was nothing to switch; null when no live snapshot was taken
   * (absent from older servers).
   */
  quiesced: z.boolean().describe("True when the guest agent froze the source's volumes for the snapshot; false when the disks switched inside a pause; null without a live snapshot.").nullable().optional(),
  message: z.string().nullable(),
});
export type BranchInfo = z.infer<typeof BranchInfoSchema>;

/** What a checkpoint captured and how it is used (only on checkpoints). */
export const CheckpointInfoSchema = z.object({
  /** The instance it was captured from (which may since have been deleted). */
  source: RefOutSchema,
  /** True when it holds memory: instances loaded from it continue the guest where it was. */
  has_memory: z.boolean().describe("True when it holds memory: instances loaded from it continue the guest where it was."),
  /** How long the source's guest was paused for the capture (0 for a stopped or standby source). */
  source_pause_ms: z.number().describe("How long the source's guest paused for the capture, in ms (0 for a stopped or standby source).").nullable(),
  /** When the capture was complete (null while it is `starting`). */
  ready_at: TimestampSchema.describe("When the capture was complete.").nullable(),
  /** How many instances were loaded from it, and the last time one was. */
  loads: z.number().int().describe("How many instances were loaded from it."),
  last_loaded_at: TimestampSchema.nullable(),
  /** The source's published guest ports: each loaded instance publishes them on new host ports. */
  guest_ports: z.array(z.object({ guest_port: z.number().int(), protocol: z.enum(["tcp", "udp"]) })),
  message: z.string().nullable(),
});
export type CheckpointInfo = z.infer<typeof CheckpointInfoSchema>;

/** Delete-on-idle policy of a template or checkpoint: deleted `time_ms` after its last use (0: never). */
export const AutokillSchema = z.strictObject({
  time_ms: z.number().int().min(0).max(10 * 365 * 24 * 3600 * 1000).describe("Delete it this many milliseconds after its last use (0: never)."),
});
export type Autokill = z.infer<typeof AutokillSchema>;

/** The instance object. Nullable fields are always present so clients see a stable shape. */
export const InstanceSchema = z.object({
  uuid: UuidSchema.describe("The instance's uuid, assigned by the server."),
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
  smbios_serial: z.string().describe("SMBIOS serial number of the guest."),
  tags: z.array(z.string()),
  annotations: z.record(z.string(), z.string()),
  delete_lock: z.boolean(),
  autostart: z.boolean(),
  outbound_network: z.boolean(),
  /** The host it lives on; absent from servers older than hosts. */
  host: z.string().describe("The host it lives on (`GET /v1/hosts`).").optional(),
  /** Its host's state; absent from servers older than host failure. */
  host_state: HostStateSchema.describe("`offline` when its host's heartbeats stopped: `state` is then as last recorded, and every operation on it answers `409 HOST_OFFLINE`.").optional(),
  created_at: TimestampSchema.describe("When it was created."),
  started_at: TimestampSchema.describe("When it last started.").nullable(),
  stopped_at: TimestampSchema.nullable(),
  boot_time_ms: z.number().describe("How long its last boot took, in ms.").nullable(),
  exit_code: z.number().int().describe("Exit code of the main process, once it exited.").nullable(),
  stop_reason: z.string().describe("Why it last stopped.").nullable(),
  start_count: z.number().int(),
  accelerator: z.enum(["kvm", "tcg"]).describe("`kvm` or `tcg`: how QEMU runs it.").nullable(),
  snapshot: z.object({ uuid: UuidSchema, created_at: TimestampSchema, has_memory: z.boolean() }).nullable(),
  template: RefOutSchema.nullable(),
  branch: BranchInfoSchema.nullable(),
  /** On checkpoints: what was captured and how it is used. */
  checkpoint: CheckpointInfoSchema.nullable(),
  /** The checkpoint this instance was loaded from, if any. */
  from_checkpoint: RefOutSchema.nullable(),
  /** Delete-on-idle policy of an instance template (Unikraft Cloud's name), else null. */
  template_autokill: AutokillSchema.nullable(),
  /** Delete-on-idle policy of a checkpoint (Unikraft Cloud's name), else null. */
  checkpoint_autokill: AutokillSchema.nullable(),
});
export type Instance = z.infer<typeof InstanceSchema>;

/** An instance as a lifecycle action answers it: the instance, the item's status and the state it left. */
export const InstanceActionResultSchema = InstanceSchema.extend({
  status: z.literal("success"),
  previous_state: InstanceStateSchema,
});
export type InstanceActionResult = z.infer<typeof InstanceActionResultSchema>;

/** The longest a request may wait for a state (`-1` in a request means this). */
export const MAX_WAIT_S = 3600;

/** The fields of a stop request (one instance, or one item of a bulk stop). */
export const InstanceStopFields = {
  force: z.boolean().optional(),
  /** Grace period of a graceful stop before the VM is forced off (default 10 s). */
  timeout_s: z.number().min(0).max(MAX_WAIT_S).optional(),
  /** Unikraft Cloud's drain window in ms (-1: the longest); vmbranch uses it as the grace period. */
  drain_timeout_ms: z.number().int().min(-1).max(MAX_WAIT_S * 1000).optional(),
  /** Accepted: vmbranch never drains connections, so every stop is already quick. */
  quick: z.boolean().optional(),
  /** Only stop the instance if it is in this state (otherwise 409). */
  ifstate: InstanceStateSchema.optional(),
  /** Core dumps of the VMM: not written by vmbranch, so only `false` is accepted. */
  dump: z.boolean().optional(),
};

function stopRules(v: { timeout_s?: number; drain_timeout_ms?: number; dump?: boolean }, ctx: z.RefinementCtx): void {
  if (v.timeout_s !== undefined && v.drain_timeout_ms !== undefined)
    ctx.addIssue({ code: "custom", message: "Cannot specify both 'timeout_s' and 'drain_timeout_ms': both set the grace period", path: ["drain_timeout_ms"] });
  if (v.dump === true)
    ctx.addIssue({ code: "custom", message: "'dump' is not supported: vmbranch does not write core dumps of QEMU (its guests' memory is the user's data)", path: ["dump"] });
}

/** `PUT /v1/instances/{id}/stop` body. */
export const InstanceStopRequestSchema = z.strictObject(InstanceStopFields).superRefine(stopRules);
export type InstanceStopRequest = z.infer<typeof InstanceStopRequestSchema>;

/** The fields of a start request: optionally wait for `running` before answering. */
export const InstanceStartFields = {
  timeout_s: z.number().int().min(-1).max(MAX_WAIT_S).optional(),
  wait_timeout_ms: z.number().int().min(-1).max(MAX_WAIT_S * 1000).optional(),
};
/** `PUT /v1/instances/{id}/start` body (optional). */
export const InstanceStartRequestSchema = z.strictObject(InstanceStartFields);
export type InstanceStartRequest = z.infer<typeof InstanceStartRequestSchema>;

/** The fields of a suspend request; `drain_timeout_ms` is accepted (vmbranch does not drain connections). */
export const InstanceSuspendFields = { drain_timeout_ms: z.number().int().min(-1).max(MAX_WAIT_S * 1000).optional() };
/** `PUT /v1/instances/{id}/suspend` body (optional). */
export const InstanceSuspendRequestSchema = z.strictObject(InstanceSuspendFields);

/** The fields of a delete request: accepted for compatibility (deletes finish before the answer; nothing is retained). */
export const InstanceDeleteFields = { timeout_s: z.number().int().min(-1).max(MAX_WAIT_S).optional(), dont_retain: z.boolean().optional() };
/** `DELETE /v1/instances/{id}` body (optional). */
export const InstanceDeleteRequestSchema = z.strictObject(InstanceDeleteFields);

/** `GET /v1/instances/{id}/wait` query: `state` (default `running`) and a timeout (default 60 s, `-1` the longest). */
export const InstanceWaitQuerySchema = z.strictObject({
  state: InstanceStateSchema.optional(),
  timeout_s: z.coerce.number().min(-1).max(MAX_WAIT_S).optional(),
  timeout_ms: z.coerce.number().int().min(-1).max(MAX_WAIT_S * 1000).optional(),
});

/** The longest log slice one request returns. */
export const MAX_LOG_LIMIT = 4 * 1024 * 1024;

/** `GET /v1/instances/{id}/log` query: byte offset (negative: from the end) and limit into the serial console log. */
export const InstanceLogQuerySchema = z.strictObject({
  offset: z.coerce.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LOG_LIMIT).optional(),
});

/** A byte range `[start, end)` of the console log. */
export const LogRangeSchema = z.object({ start: z.number().int(), end: z.number().int() });

/**
 * Serial console output of an instance, in Unikraft Cloud's shape: `output` is base64, `available`
 * the bytes the log holds and `range` the bytes returned; both end-exclusive, so the next read
 * starts at `range.end`.
 */
export const InstanceLogSchema = z.object({
  uuid: UuidSchema,
  name: z.string(),
  output: z.string(),
  available: LogRangeSchema,
  range: LogRangeSchema,
  state: InstanceStateSchema,
});
export type InstanceLog = z.infer<typeof InstanceLogSchema>;

const VolumeAttachValueSchema = z.strictObject({
  uuid: UuidSchema.optional(),
  name: NameSchema.optional(),
  at: MountPathSchema,
  readonly: z.boolean().optional(),
});

/** One PATCH operation: `prop`, `op`, `value` and the optional `id` the answer echoes. */
function patchOp<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject({ ...shape, id: PatchIdSchema.optional() });
}

/** One PATCH operation on an instance (a union on `prop`, then on `op`, so errors name the right value). */
export const InstancePatchOpSchema = z.discriminatedUnion("prop", [
  z.discriminatedUnion("op", [
    patchOp({ prop: z.literal("tags"), op: z.literal("set"), value: TagsSchema }),
    patchOp({ prop: z.literal("tags"), op: z.enum(["add", "del"]), value: oneOrMany(TagSchema) }),
  ]),
  z.discriminatedUnion("op", [
    patchOp({ prop: z.literal("annotations"), op: z.enum(["set", "add"]), value: AnnotationsSchema }),
    patchOp({ prop: z.literal("annotations"), op: z.literal("del"), value: oneOrMany(z.string()) }),
  ]),
  patchOp({ prop: z.literal("delete_lock"), op: z.literal("set"), value: z.boolean() }),
  z.discriminatedUnion("op", [
    patchOp({ prop: z.literal("volumes"), op: z.literal("add"), value: VolumeAttachValueSchema }),
    patchOp({ prop: z.literal("volumes"), op: z.literal("del"), value: z.union([RefSchema, z.string()]) }),
  ]),
  z.discriminatedUnion("op", [
    patchOp({ prop: z.literal("ports"), op: z.literal("set"), value: z.array(PortSpecSchema).max(32) }),
    patchOp({ prop: z.literal("ports"), op: z.literal("add"), value: oneOrMany(PortSpecSchema) }),
    patchOp({ prop: z.literal("ports"), op: z.literal("del"), value: oneOrMany(z.number().int().min(1).max(65535)) }),
  ]),
]);
export type InstancePatchOp = z.infer<typeof InstancePatchOpSchema>;

/** `PATCH /v1/instances/{id}` body: one operation or a list. */
export const InstancePatchRequestSchema = oneOrMany(InstancePatchOpSchema);

/** One item of `POST /v1/instances/templates`: an instance to convert, with an optional delete-on-idle policy. */
export const InstanceTemplateCreateItemSchema = z
  .strictObject({
    uuid: UuidSchema.optional(),
    name: NameSchema.optional(),
    /** Accepted: conversion finishes before the answer, so there is nothing to wait for. */
    timeout_s: z.number().int().min(-1).max(MAX_WAIT_S).optional(),
    autokill: AutokillSchema.optional(),
  })
  .refine((r) => (r.uuid === undefined) !== (r.name === undefined), "set exactly one of 'uuid' or 'name'");
export type InstanceTemplateCreateItem = z.infer<typeof InstanceTemplateCreateItemSchema>;

/** `POST /v1/instances/templates` body: instances to convert, by uuid or name. */
export const InstanceTemplateCreateRequestSchema = oneOrMany(InstanceTemplateCreateItemSchema);

/** One PATCH operation on an instance template or a checkpoint: tags, delete lock, delete-on-idle policy. */
export const TemplatePatchOpSchema = z.discriminatedUnion("prop", [
  z.discriminatedUnion("op", [
    patchOp({ prop: z.literal("tags"), op: z.literal("set"), value: TagsSchema }),
    patchOp({ prop: z.literal("tags"), op: z.enum(["add", "del"]), value: oneOrMany(TagSchema) }),
  ]),
  patchOp({ prop: z.literal("delete_lock"), op: z.literal("set"), value: z.boolean() }),
  patchOp({ prop: z.literal("autokill"), op: z.literal("set"), value: AutokillSchema }),
]);
export type TemplatePatchOp = z.infer<typeof TemplatePatchOpSchema>;
/** `PATCH /v1/instances/templates/{id}` and `/v1/instances/checkpoints/{id}` body: one operation or a list. */
export const TemplatePatchRequestSchema = oneOrMany(TemplatePatchOpSchema);
