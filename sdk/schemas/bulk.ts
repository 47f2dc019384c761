/**
 * Bulk forms of the per-resource actions (Unikraft Cloud's `PUT /v1/instances/start` with a list
 * body, `PATCH /v1/volumes`, …): each item names its resource by `uuid` or `name` next to the
 * fields of the single-resource form. Items are checked and answered one by one, so a bad item
 * fails alone. Also the per-item answer shape. Zod only.
 */
import { z } from "zod";
import { NameSchema, RefSchema, UuidSchema, oneOrMany, type Ref } from "./common";
import {
  InstanceDeleteFields,
  InstanceStartFields,
  InstanceStopFields,
  InstanceSuspendFields,
  type InstancePatchOp,
  type TemplatePatchOp,
} from "./instance";
import { MountPathSchema, type VolumePatchOp } from "./volume";

const REF_FIELDS = { uuid: UuidSchema.optional(), name: NameSchema.optional() };
const oneRef = (r: { uuid?: string; name?: string }) => (r.uuid === undefined) !== (r.name === undefined);
const ONE_REF = "set exactly one of 'uuid' or 'name'";

/** A bulk body: a list of objects (one object is a list of one). Each item is checked on its own. */
export const BulkBodySchema = oneOrMany(z.record(z.string(), z.unknown()));

/** An item's reference, with the rest of the item left for the action's own schema. */
export const BulkRefSchema = z.object(REF_FIELDS).refine(oneRef, ONE_REF);

/** One item of `PUT /v1/instances/start`. */
export const InstanceStartItemSchema = z.strictObject({ ...REF_FIELDS, ...InstanceStartFields }).refine(oneRef, ONE_REF);
/** One item of `PUT /v1/instances/stop`. */
export const InstanceStopItemSchema = z
  .strictObject({ ...REF_FIELDS, ...InstanceStopFields })
  .refine(oneRef, ONE_REF)
  .superRefine((v, ctx) => {
    if (v.timeout_s !== undefined && v.drain_timeout_ms !== undefined)
      ctx.addIssue({ code: "custom", message: "Cannot specify both 'timeout_s' and 'drain_timeout_ms': both set the grace period", path: ["drain_timeout_ms"] });
    if (v.dump === true)
      ctx.addIssue({ code: "custom", message: "'dump' is not supported: vmbranch does not write core dumps of QEMU (its guests' memory is the user's data)", path: ["dump"] });
  });
/** One item of `PUT /v1/instances/suspend`. */
export const InstanceSuspendItemSchema = z.strictObject({ ...REF_FIELDS, ...InstanceSuspendFields }).refine(oneRef, ONE_REF);
/** One item of `DELETE /v1/instances`. */
export const InstanceDeleteItemSchema = z.strictObject({ ...REF_FIELDS, ...InstanceDeleteFields }).refine(oneRef, ONE_REF);
/** One item of the bulk deletes of templates, checkpoints and volumes: a reference. */
export const RefItemSchema = RefSchema;

/** One item of `PUT /v1/volumes/attach`. */
export const VolumeAttachItemSchema = z
  .strictObject({ ...REF_FIELDS, attach_to: RefSchema, at: MountPathSchema, readonly: z.boolean().optional() })
  .refine(oneRef, ONE_REF);
export type VolumeAttachItem = z.infer<typeof VolumeAttachItemSchema>;
/** One item of `PUT /v1/volumes/detach` (`from` absent: from every instance). */
export const VolumeDetachItemSchema = z.strictObject({ ...REF_FIELDS, from: RefSchema.optional() }).refine(oneRef, ONE_REF);
export type VolumeDetachItem = z.infer<typeof VolumeDetachItemSchema>;

/** One item of a bulk PATCH: a reference plus one operation of the resource's grammar. */
export type BulkPatchItem<Op> = Ref & Op;
/** One item of `PATCH /v1/instances`. */
export type InstanceUpdateItem = BulkPatchItem<InstancePatchOp>;
/** One item of `PATCH /v1/volumes` and `/v1/volumes/templates`. */
export type VolumeUpdateItem = BulkPatchItem<VolumePatchOp>;
/** One item of `PATCH /v1/instances/templates` and `/v1/instances/checkpoints`. */
export type TemplateUpdateItem = BulkPatchItem<TemplatePatchOp>;

/** The per-item fields of a bulk answer (and of single-resource action answers): the item succeeded. */
export const ItemSuccessSchema = z.object({ status: z.literal("success") });
/** A failed item kept in its place in `data` (clone answers), its error also in `errors`. */
export const ItemFailureSchema = z.object({ status: z.literal("error"), message: z.string(), error: z.number().int().optional() });
/** An identity with the echoed PATCH `id`, as bulk PATCH answers carry it. */
export const PatchEchoSchema = z.object({ id: z.string().optional() });
