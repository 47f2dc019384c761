/**
 * Every operation of the HTTP API as data: method, path, summary, the SDK schemas of its body,
 * query and answer, its success status and the error codes it can answer with. The OpenAPI
 * document (document.ts) is generated from this list and the zod schemas; a backend test checks
 * that it names exactly the routes the server registers, and a unit test that docs/api.md
 * documents each of them with its status and error codes.
 */
import {
  BulkLogQuerySchema,
  BulkWaitQuerySchema,
  CheckpointCreateItemSchema,
  CheckpointsEnvelopeSchema,
  DoctorEnvelopeSchema,
  HealthSchema,
  HostsEnvelopeSchema,
  IdsQuerySchema,
  ImagesEnvelopeSchema,
  InstanceActionsEnvelopeSchema,
  InstanceCreateRequestSchema,
  InstanceDeleteItemSchema,
  InstanceDeleteRequestSchema,
  InstanceHistoryEnvelopeSchema,
  InstanceLogEnvelopeSchema,
  InstanceLogQuerySchema,
  InstanceMetricsEnvelopeSchema,
  InstancePatchOpSchema,
  InstancePatchRequestSchema,
  InstanceStartItemSchema,
  InstanceStartRequestSchema,
  InstanceStopItemSchema,
  InstanceStopRequestSchema,
  InstanceSuspendItemSchema,
  InstanceSuspendRequestSchema,
  InstanceTemplateCreateItemSchema,
  InstanceTemplatesEnvelopeSchema,
  InstanceWaitQuerySchema,
  InstancesEnvelopeSchema,
  ListQuerySchema,
  RefItemSchema,
  TemplatePatchOpSchema,
  TemplatePatchRequestSchema,
  VolumeAttachItemSchema,
  VolumeAttachRequestSchema,
  VolumeCloneByIdRequestSchema,
  VolumeCloneItemSchema,
  VolumeClonesEnvelopeSchema,
  VolumeCreateRequestSchema,
  VolumeDetachItemSchema,
  VolumeDetachRequestSchema,
  VolumePatchOpSchema,
  VolumePatchRequestSchema,
  VolumeTemplateItemSchema,
  VolumeTemplatesEnvelopeSchema,
  VolumesEnvelopeSchema,
} from "vmbranch/sdk";
import type { z } from "zod";
import type { ErrorCode } from "../../core/errors";

/** How a request body is shaped: one object, or a bulk list of items (one object is a list of one). */
export type BodySpec = { one: z.ZodType } | { items: z.ZodType; patch?: boolean } | { raw: "tar" };

/** One documented operation. */
export interface Operation {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** OpenAPI form (`/v1/instances/{id}`). */
  path: string;
  tag: "Service" | "Instances" | "Instance templates" | "Checkpoints" | "Volumes" | "Volume templates" | "Images" | "Doctor" | "Hosts";
  summary: string;
  body?: BodySpec;
  query?: z.ZodObject;
  /** The success answer: an envelope schema, a plain JSON schema, or a text format. */
  response: z.ZodType | { text: "prometheus" | "openapi" };
  /** 200 unless a create. */
  status?: 200 | 201;
  /** Bulk answers keep failed items in place and answer 200 when some succeeded. */
  bulk?: boolean;
  /** Error codes beyond those every operation of its kind can answer (see commonErrors). */
  errors: ErrorCode[];
  /** Anyone may call it (access.ts PUBLIC_ROUTES). */
  public?: true;
}

const NF = "INSTANCE_NOT_FOUND" as const;
const VNF = "VOLUME_NOT_FOUND" as const;
const HOST = ["HOST_FAILURE"] as const satisfies ErrorCode[];
const CREATE_INSTANCE: ErrorCode[] = [
  NF, "IMAGE_NOT_FOUND", "TEMPLATE_NOT_FOUND", "CHECKPOINT_NOT_FOUND", "CHECKPOINT_NOT_READY", VNF, "NAME_TAKEN", "INVALID_STATE",
  "VOLUME_IN_USE", "VOLUME_IS_TEMPLATE", "PORT_UNAVAILABLE", "BRANCH_MANAGED_VOLUME", "BRANCH_PENDING_SNAPSHOT", "BRANCH_INVALID_STATE",
  "HOST_PATH_UNSAFE", "HOST_FEATURE_UNAVAILABLE", "SNAPSHOT_INCOMPATIBLE", "WAIT_TIMEOUT", ...HOST, "INSUFFICIENT_MEMORY", "INSUFFICIENT_STORAGE",
  "HOST_OFFLINE", "PLACEMENT_CONFLICT",
];
const START: ErrorCode[] = [NF, "INVALID_STATE", "HOST_OFFLINE", "VOLUME_IN_USE", "PORT_UNAVAILABLE", "HOST_PATH_UNSAFE", "HOST_FEATURE_UNAVAILABLE", "SNAPSHOT_INCOMPATIBLE", "WAIT_TIMEOUT", ...HOST, "INSUFFICIENT_MEMORY"];
const STOP: ErrorCode[] = [NF, "INVALID_STATE", "HOST_OFFLINE", ...HOST];
const SUSPEND: ErrorCode[] = [NF, "INVALID_STATE", "HOST_OFFLINE", ...HOST, "INSUFFICIENT_STORAGE"];
const PATCH_INSTANCE: ErrorCode[] = [NF, "NAME_TAKEN", "INVALID_STATE", "HOST_OFFLINE", "VOLUME_NOT_FOUND", "VOLUME_IN_USE", "VOLUME_IS_TEMPLATE", "PORT_UNAVAILABLE"];
const DELETE_INSTANCE: ErrorCode[] = [NF, "DELETE_LOCKED", "HOST_OFFLINE", ...HOST];
const TEMPLATE_PATCH: ErrorCode[] = ["TEMPLATE_NOT_FOUND", "HOST_OFFLINE"];
const TEMPLATE_DELETE: ErrorCode[] = ["TEMPLATE_NOT_FOUND", "DELETE_LOCKED", "VOLUME_HAS_CLONES", "HOST_OFFLINE"];
const CHECKPOINT_DELETE: ErrorCode[] = ["CHECKPOINT_NOT_FOUND", "DELETE_LOCKED", "HOST_OFFLINE"];
const CHECKPOINT_PATCH: ErrorCode[] = ["CHECKPOINT_NOT_FOUND", "HOST_OFFLINE"];
const VOLUME_TEMPLATE_PATCH: ErrorCode[] = ["VOLUME_TEMPLATE_NOT_FOUND", "HOST_OFFLINE"];
const VOLUME_TEMPLATE_DELETE: ErrorCode[] = ["VOLUME_TEMPLATE_NOT_FOUND", "DELETE_LOCKED", "VOLUME_HAS_CLONES", "HOST_OFFLINE"];
const VOLUME_PATCH: ErrorCode[] = [VNF, "VOLUME_SHRINK", "VOLUME_IN_USE", "VOLUME_IS_TEMPLATE", "HOST_OFFLINE", ...HOST];
const VOLUME_DELETE: ErrorCode[] = [VNF, "DELETE_LOCKED", "VOLUME_IN_USE", "VOLUME_HAS_CLONES", "HOST_OFFLINE", ...HOST];
const ATTACH: ErrorCode[] = [VNF, NF, "INVALID_STATE", "VOLUME_IN_USE", "VOLUME_IS_TEMPLATE", "HOST_OFFLINE"];
const DETACH: ErrorCode[] = [VNF, NF, "INVALID_STATE", "HOST_OFFLINE"];
const CLONE: ErrorCode[] = [VNF, "VOLUME_TEMPLATE_NOT_FOUND", "NAME_TAKEN", "VOLUME_IN_USE", "BRANCH_PENDING_SNAPSHOT", "HOST_OFFLINE", ...HOST];

/** Every operation the server answers (its `/ui` page aside: HTML for browsers, not API). */
export const OPERATIONS: Operation[] = [
  { method: "GET", path: "/healthz", tag: "Service", summary: "Liveness and version", response: HealthSchema, errors: [], public: true },
  { method: "GET", path: "/openapi.json", tag: "Service", summary: "This OpenAPI 3.1 description", response: { text: "openapi" }, errors: [], public: true },
  { method: "GET", path: "/metrics", tag: "Service", summary: "Service metrics in Prometheus text format (docs/metrics.md)", response: { text: "prometheus" }, errors: [] },

  { method: "POST", path: "/v1/instances", tag: "Instances", summary: "Create an instance from an image, a template, a checkpoint, or by branching a running one", body: { one: InstanceCreateRequestSchema }, response: InstancesEnvelopeSchema, status: 201, errors: CREATE_INSTANCE },
  { method: "GET", path: "/v1/instances", tag: "Instances", summary: "List instances", query: ListQuerySchema, response: InstancesEnvelopeSchema, bulk: true, errors: [NF] },
  { method: "PATCH", path: "/v1/instances", tag: "Instances", summary: "Update several instances, one operation per item", body: { items: InstancePatchOpSchema, patch: true }, response: InstancesEnvelopeSchema, bulk: true, errors: PATCH_INSTANCE },
  { method: "DELETE", path: "/v1/instances", tag: "Instances", summary: "Delete several instances", body: { items: InstanceDeleteItemSchema }, response: InstanceActionsEnvelopeSchema, bulk: true, errors: DELETE_INSTANCE },
  { method: "PUT", path: "/v1/instances/start", tag: "Instances", summary: "Start several instances", body: { items: InstanceStartItemSchema }, response: InstanceActionsEnvelopeSchema, bulk: true, errors: START },
  { method: "PUT", path: "/v1/instances/stop", tag: "Instances", summary: "Stop several instances (side by side)", body: { items: InstanceStopItemSchema }, response: InstanceActionsEnvelopeSchema, bulk: true, errors: STOP },
  { method: "PUT", path: "/v1/instances/suspend", tag: "Instances", summary: "Suspend several instances", body: { items: InstanceSuspendItemSchema }, response: InstanceActionsEnvelopeSchema, bulk: true, errors: SUSPEND },
  { method: "GET", path: "/v1/instances/wait", tag: "Instances", summary: "Wait for several instances to reach a state", query: BulkWaitQuerySchema, response: InstancesEnvelopeSchema, bulk: true, errors: [NF, "WAIT_TIMEOUT"] },
  { method: "GET", path: "/v1/instances/log", tag: "Instances", summary: "Serial console output of several instances", query: BulkLogQuerySchema, response: InstanceLogEnvelopeSchema, bulk: true, errors: [NF] },
  { method: "GET", path: "/v1/instances/history", tag: "Instances", summary: "Histories of instances (all when none named)", query: IdsQuerySchema, response: InstanceHistoryEnvelopeSchema, bulk: true, errors: [NF] },
  { method: "GET", path: "/v1/instances/metrics", tag: "Instances", summary: "Metrics of instances (all when none named)", query: IdsQuerySchema, response: InstanceMetricsEnvelopeSchema, bulk: true, errors: [NF, ...HOST] },
  { method: "GET", path: "/v1/instances/{id}", tag: "Instances", summary: "Get an instance", response: InstancesEnvelopeSchema, errors: [NF] },
  { method: "PATCH", path: "/v1/instances/{id}", tag: "Instances", summary: "Update an instance", body: { one: InstancePatchRequestSchema }, response: InstancesEnvelopeSchema, errors: PATCH_INSTANCE },
  { method: "DELETE", path: "/v1/instances/{id}", tag: "Instances", summary: "Delete an instance", body: { one: InstanceDeleteRequestSchema }, response: InstanceActionsEnvelopeSchema, errors: DELETE_INSTANCE },
  { method: "PUT", path: "/v1/instances/{id}/start", tag: "Instances", summary: "Start an instance", body: { one: InstanceStartRequestSchema }, response: InstanceActionsEnvelopeSchema, errors: START },
  { method: "PUT", path: "/v1/instances/{id}/stop", tag: "Instances", summary: "Stop an instance", body: { one: InstanceStopRequestSchema }, response: InstanceActionsEnvelopeSchema, errors: STOP },
  { method: "PUT", path: "/v1/instances/{id}/suspend", tag: "Instances", summary: "Suspend an instance (memory kept)", body: { one: InstanceSuspendRequestSchema }, response: InstanceActionsEnvelopeSchema, errors: SUSPEND },
  { method: "GET", path: "/v1/instances/{id}/wait", tag: "Instances", summary: "Wait for an instance to reach a state", query: InstanceWaitQuerySchema, response: InstancesEnvelopeSchema, errors: [NF, "WAIT_TIMEOUT"] },
  { method: "GET", path: "/v1/instances/{id}/log", tag: "Instances", summary: "Serial console output of an instance", query: InstanceLogQuerySchema, response: InstanceLogEnvelopeSchema, errors: [NF] },
  { method: "GET", path: "/v1/instances/{id}/history", tag: "Instances", summary: "History of an instance", response: InstanceHistoryEnvelopeSchema, errors: [NF] },
  { method: "GET", path: "/v1/instances/{id}/metrics", tag: "Instances", summary: "Metrics of an instance", response: InstanceMetricsEnvelopeSchema, errors: [NF, ...HOST] },

  { method: "POST", path: "/v1/instances/templates", tag: "Instance templates", summary: "Convert instances into templates", body: { items: InstanceTemplateCreateItemSchema }, response: InstanceTemplatesEnvelopeSchema, status: 201, bulk: true, errors: [NF, "NAME_TAKEN", "INVALID_STATE", "TEMPLATE_MANAGED_VOLUME", "HOST_OFFLINE", ...HOST] },
  { method: "GET", path: "/v1/instances/templates", tag: "Instance templates", summary: "List instance templates", query: ListQuerySchema, response: InstanceTemplatesEnvelopeSchema, bulk: true, errors: ["TEMPLATE_NOT_FOUND"] },
  { method: "PATCH", path: "/v1/instances/templates", tag: "Instance templates", summary: "Update several instance templates", body: { items: TemplatePatchOpSchema, patch: true }, response: InstanceTemplatesEnvelopeSchema, bulk: true, errors: TEMPLATE_PATCH },
  { method: "DELETE", path: "/v1/instances/templates", tag: "Instance templates", summary: "Delete several instance templates", body: { items: RefItemSchema }, response: InstanceTemplatesEnvelopeSchema, bulk: true, errors: TEMPLATE_DELETE },
  { method: "GET", path: "/v1/instances/templates/{id}", tag: "Instance templates", summary: "Get an instance template", response: InstanceTemplatesEnvelopeSchema, errors: ["TEMPLATE_NOT_FOUND"] },
  { method: "PATCH", path: "/v1/instances/templates/{id}", tag: "Instance templates", summary: "Update an instance template", body: { one: TemplatePatchRequestSchema }, response: InstanceTemplatesEnvelopeSchema, errors: TEMPLATE_PATCH },
  { method: "DELETE", path: "/v1/instances/templates/{id}", tag: "Instance templates", summary: "Delete an instance template", response: InstanceTemplatesEnvelopeSchema, errors: TEMPLATE_DELETE },

  { method: "POST", path: "/v1/instances/checkpoints", tag: "Checkpoints", summary: "Capture checkpoints of instances", body: { items: CheckpointCreateItemSchema }, response: CheckpointsEnvelopeSchema, status: 201, bulk: true, errors: [NF, "NAME_TAKEN", "INVALID_STATE", "BRANCH_MANAGED_VOLUME", "BRANCH_PENDING_SNAPSHOT", "HOST_OFFLINE", ...HOST, "INSUFFICIENT_STORAGE"] },
  { method: "GET", path: "/v1/instances/checkpoints", tag: "Checkpoints", summary: "List checkpoints", query: ListQuerySchema, response: CheckpointsEnvelopeSchema, bulk: true, errors: ["CHECKPOINT_NOT_FOUND"] },
  { method: "PATCH", path: "/v1/instances/checkpoints", tag: "Checkpoints", summary: "Update several checkpoints", body: { items: TemplatePatchOpSchema, patch: true }, response: CheckpointsEnvelopeSchema, bulk: true, errors: CHECKPOINT_PATCH },
  { method: "DELETE", path: "/v1/instances/checkpoints", tag: "Checkpoints", summary: "Delete several checkpoints", body: { items: RefItemSchema }, response: CheckpointsEnvelopeSchema, bulk: true, errors: CHECKPOINT_DELETE },
  { method: "GET", path: "/v1/instances/checkpoints/history", tag: "Checkpoints", summary: "Histories of checkpoints (all when none named)", query: IdsQuerySchema, response: InstanceHistoryEnvelopeSchema, bulk: true, errors: ["CHECKPOINT_NOT_FOUND"] },
  { method: "GET", path: "/v1/instances/checkpoints/{id}", tag: "Checkpoints", summary: "Get a checkpoint", response: CheckpointsEnvelopeSchema, errors: ["CHECKPOINT_NOT_FOUND"] },
  { method: "PATCH", path: "/v1/instances/checkpoints/{id}", tag: "Checkpoints", summary: "Update a checkpoint", body: { one: TemplatePatchRequestSchema }, response: CheckpointsEnvelopeSchema, errors: CHECKPOINT_PATCH },
  { method: "DELETE", path: "/v1/instances/checkpoints/{id}", tag: "Checkpoints", summary: "Delete a checkpoint", response: CheckpointsEnvelopeSchema, errors: CHECKPOINT_DELETE },
  { method: "GET", path: "/v1/instances/checkpoints/{id}/history", tag: "Checkpoints", summary: "History of a checkpoint", response: InstanceHistoryEnvelopeSchema, errors: ["CHECKPOINT_NOT_FOUND"] },

  { method: "POST", path: "/v1/volumes", tag: "Volumes", summary: "Create a volume (empty, from a template, or a managed host directory)", body: { one: VolumeCreateRequestSchema }, response: VolumesEnvelopeSchema, status: 201, errors: ["NAME_TAKEN", "VOLUME_TEMPLATE_NOT_FOUND", "HOST_PATH_REJECTED", ...HOST, "HOST_OFFLINE", "PLACEMENT_CONFLICT"] },
  { method: "GET", path: "/v1/volumes", tag: "Volumes", summary: "List volumes", query: ListQuerySchema, response: VolumesEnvelopeSchema, bulk: true, errors: [VNF] },
  { method: "PATCH", path: "/v1/volumes", tag: "Volumes", summary: "Update several volumes", body: { items: VolumePatchOpSchema, patch: true }, response: VolumesEnvelopeSchema, bulk: true, errors: VOLUME_PATCH },
  { method: "DELETE", path: "/v1/volumes", tag: "Volumes", summary: "Delete several volumes", body: { items: RefItemSchema }, response: VolumesEnvelopeSchema, bulk: true, errors: VOLUME_DELETE },
  { method: "PUT", path: "/v1/volumes/attach", tag: "Volumes", summary: "Attach several volumes", body: { items: VolumeAttachItemSchema }, response: VolumesEnvelopeSchema, bulk: true, errors: ATTACH },
  { method: "PUT", path: "/v1/volumes/detach", tag: "Volumes", summary: "Detach several volumes", body: { items: VolumeDetachItemSchema }, response: VolumesEnvelopeSchema, bulk: true, errors: DETACH },
  { method: "POST", path: "/v1/volumes/clone", tag: "Volumes", summary: "Clone volumes or volume templates (copy-on-write)", body: { items: VolumeCloneItemSchema }, response: VolumeClonesEnvelopeSchema, status: 201, bulk: true, errors: CLONE },
  { method: "GET", path: "/v1/volumes/{id}", tag: "Volumes", summary: "Get a volume", response: VolumesEnvelopeSchema, errors: [VNF] },
  { method: "PATCH", path: "/v1/volumes/{id}", tag: "Volumes", summary: "Update a volume", body: { one: VolumePatchRequestSchema }, response: VolumesEnvelopeSchema, errors: VOLUME_PATCH },
  { method: "DELETE", path: "/v1/volumes/{id}", tag: "Volumes", summary: "Delete a volume", response: VolumesEnvelopeSchema, errors: VOLUME_DELETE },
  { method: "PUT", path: "/v1/volumes/{id}/attach", tag: "Volumes", summary: "Attach a volume to a stopped instance", body: { one: VolumeAttachRequestSchema }, response: VolumesEnvelopeSchema, errors: ATTACH },
  { method: "PUT", path: "/v1/volumes/{id}/detach", tag: "Volumes", summary: "Detach a volume", body: { one: VolumeDetachRequestSchema }, response: VolumesEnvelopeSchema, errors: DETACH },
  { method: "PUT", path: "/v1/volumes/{id}/import", tag: "Volumes", summary: "Fill an empty volume from a tar stream", body: { raw: "tar" }, response: VolumesEnvelopeSchema, errors: [VNF, "VOLUME_NOT_EMPTY", "VOLUME_IN_USE", "IMPORT_STALLED", "IMPORT_TOO_LARGE", "HOST_OFFLINE", ...HOST] },
  { method: "POST", path: "/v1/volumes/{id}/clone", tag: "Volumes", summary: "Clone one volume or volume template", body: { one: VolumeCloneByIdRequestSchema }, response: VolumeClonesEnvelopeSchema, status: 201, errors: CLONE },

  { method: "POST", path: "/v1/volumes/templates", tag: "Volume templates", summary: "Make volumes into templates (or freeze copies)", body: { items: VolumeTemplateItemSchema }, response: VolumeTemplatesEnvelopeSchema, status: 201, bulk: true, errors: [VNF, "NAME_TAKEN", "VOLUME_IN_USE", "VOLUME_IS_TEMPLATE", "HOST_OFFLINE", ...HOST] },
  { method: "GET", path: "/v1/volumes/templates", tag: "Volume templates", summary: "List volume templates", query: ListQuerySchema, response: VolumeTemplatesEnvelopeSchema, bulk: true, errors: ["VOLUME_TEMPLATE_NOT_FOUND"] },
  { method: "PATCH", path: "/v1/volumes/templates", tag: "Volume templates", summary: "Update several volume templates", body: { items: VolumePatchOpSchema, patch: true }, response: VolumeTemplatesEnvelopeSchema, bulk: true, errors: VOLUME_TEMPLATE_PATCH },
  { method: "DELETE", path: "/v1/volumes/templates", tag: "Volume templates", summary: "Delete several volume templates", body: { items: RefItemSchema }, response: VolumeTemplatesEnvelopeSchema, bulk: true, errors: VOLUME_TEMPLATE_DELETE },
  { method: "GET", path: "/v1/volumes/templates/{id}", tag: "Volume templates", summary: "Get a volume template", response: VolumeTemplatesEnvelopeSchema, errors: ["VOLUME_TEMPLATE_NOT_FOUND"] },
  { method: "PATCH", path: "/v1/volumes/templates/{id}", tag: "Volume templates", summary: "Update a volume template", body: { one: VolumePatchRequestSchema }, response: VolumeTemplatesEnvelopeSchema, errors: VOLUME_TEMPLATE_PATCH },
  { method: "DELETE", path: "/v1/volumes/templates/{id}", tag: "Volume templates", summary: "Delete a volume template", response: VolumeTemplatesEnvelopeSchema, errors: VOLUME_TEMPLATE_DELETE },

  { method: "GET", path: "/v1/images", tag: "Images", summary: "Images in the local image store", response: ImagesEnvelopeSchema, errors: [] },

  { method: "GET", path: "/v1/doctor", tag: "Doctor", summary: "Compare the store with the host (read-only)", response: DoctorEnvelopeSchema, errors: [] },
  { method: "POST", path: "/v1/doctor/repair", tag: "Doctor", summary: "Compare the store with the host and fix what is safe to fix", response: DoctorEnvelopeSchema, errors: [] },

  { method: "GET", path: "/v1/hosts", tag: "Hosts", summary: "The hosts instances and volumes are placed on", response: HostsEnvelopeSchema, errors: [] },
  { method: "GET", path: "/v1/hosts/{name}", tag: "Hosts", summary: "Get a host", response: HostsEnvelopeSchema, errors: ["HOST_NOT_FOUND"] },
];

/** The codes any operation of this shape can answer, whatever it does. */
export function commonErrors(op: Operation): ErrorCode[] {
  const codes: ErrorCode[] = [];
  if (!op.public) codes.push("UNAUTHORIZED");
  codes.push("HOST_NOT_ALLOWED");
  if (op.body || op.query) codes.push("VALIDATION_FAILED");
  if (op.body && !("raw" in op.body)) codes.push("INVALID_JSON", "PAYLOAD_TOO_LARGE");
  if (op.body) codes.push("UNSUPPORTED_MEDIA_TYPE");
  // Every change waits for the locks of what it touches, at most LOCK_WAIT_MS (core/locks.ts).
  if (op.method !== "GET" && op.path.startsWith("/v1/") && !op.path.startsWith("/v1/doctor")) codes.push("LOCK_TIMEOUT");
  codes.push("INTERNAL");
  return codes;
}
