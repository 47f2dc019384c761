/**
 * Volume wire contract: volumes, volume templates, clones, attach/detach and PATCH operations
 * (docs/api.md, "Volumes"). Zod only.
 */
import { z } from "zod";
import {
  HostStateSchema,
  NameSchema,
  PatchIdSchema,
  RefOutSchema,
  RefSchema,
  TagSchema,
  TagsSchema,
  TimestampSchema,
  UuidSchema,
  oneOrMany,
} from "./common";
import { messages } from "./messages";

/** Volume states (docs/api.md, "The volume object"). */
export const VolumeStateSchema = z.enum(["pending", "initializing", "available", "mounted", "template", "error"]);
export type VolumeState = z.infer<typeof VolumeStateSchema>;

/** A filesystem name from the operator's registry (ext4 unless configured otherwise). */
export const VolumeFilesystemSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be a registered filesystem name")
  .describe("Filesystem of a new block volume, from the server's registry (default `ext4`).");

function badComponents(path: string): boolean {
  return path.split("/").slice(1).some((c) => c === "" || c === "." || c === ".." || c.includes(":"));
}

/** A mount point inside the guest: absolute, not `/`, with no `.`, `..` or `:` components. */
export const MountPathSchema = z
  .string()
  .max(4096)
  .superRefine((p, ctx) => {
    if (!p.startsWith("/") || p === "/" || badComponents(p)) ctx.addIssue({ code: "custom", message: messages.mountPathInvalid(p) });
  });

/** A host directory for a managed volume: absolute and normalised (existence and root are checked by the backend). */
export const HostPathSchema = z
  .string()
  .max(4096)
  .superRefine((p, ctx) => {
    if (!p.startsWith("/")) ctx.addIssue({ code: "custom", message: messages.hostPathNotAbsolute(p) });
    else if (p !== "/" && badComponents(p)) ctx.addIssue({ code: "custom", message: messages.hostPathNotNormalised(p) });
  })
  .describe("Host directory of a managed volume, shared into guests instead of a block volume (under a root the server allows).");

/** `POST /v1/volumes` body. Exactly one of size_mb, template, host_path. */
export const VolumeCreateRequestSchema = z
  .strictObject({
    name: NameSchema.describe("Name of the volume, unique on the server.").optional(),
    size_mb: z.number().int().min(1).max(4 * 1024 * 1024).describe("Size in MiB of a block volume; it can only grow.").optional(),
    filesystem: VolumeFilesystemSchema.optional(),
    template: RefSchema.describe("Volume template whose contents the new volume copies (copy-on-write).").optional(),
    host_path: HostPathSchema.optional(),
    uid: z.number().int().min(0).max(4294967294).describe("Owner uid of a managed volume's mount (default 0).").optional(),
    gid: z.number().int().min(0).max(4294967294).describe("Owner gid of a managed volume's mount (default 0).").optional(),
    tags: TagsSchema.optional(),
    delete_lock: z.boolean().describe("While true the API refuses to delete it. Default false.").optional(),
    host: NameSchema.describe("Host to keep it on (`GET /v1/hosts`); default: its template's host, else the online host with the most free memory.").optional(),
  })
  .superRefine((v, ctx) => {
    if (v.host_path !== undefined) {
      if (v.size_mb !== undefined) ctx.addIssue({ code: "custom", message: messages.hostPathExclusive("size_mb"), path: ["size_mb"] });
      if (v.template !== undefined) ctx.addIssue({ code: "custom", message: messages.hostPathExclusive("template"), path: ["template"] });
      if (v.filesystem !== undefined) ctx.addIssue({ code: "custom", message: messages.hostPathExclusive("filesystem"), path: ["filesystem"] });
    } else {
      if ((v.size_mb === undefined) === (v.template === undefined))
        ctx.addIssue({ code: "custom", message: messages.volumeSizeOrTemplate, path: ["size_mb"] });
      if (v.uid !== undefined || v.gid !== undefined)
        ctx.addIssue({ code: "custom", message: "'uid' and 'gid' apply only to managed volumes (with 'host_path')", path: ["uid"] });
    }
  });
export type VolumeCreateRequest = z.infer<typeof VolumeCreateRequestSchema>;

/** One mount of a volume. */
export const VolumeMountSchema = z.object({ uuid: UuidSchema, name: z.string(), at: z.string(), readonly: z.boolean() });

/** Progress of an asynchronous clone. */
export const VolumeCloneInfoSchema = z.object({
  source: RefOutSchema,
  progress: z.number().min(0).max(100),
  started_at: TimestampSchema,
  finished_at: TimestampSchema.nullable(),
  message: z.string().nullable(),
});

/** The volume object (volume templates share it, with state `template`). */
export const VolumeSchema = z.object({
  uuid: UuidSchema.describe("The volume's uuid, assigned by the server."),
  name: z.string(),
  state: VolumeStateSchema.describe("`pending`, `initializing`, `available`, `mounted`, `template` or `error`."),
  kind: z.enum(["block", "managed"]).describe("`block` (an ext4 disk) or `managed` (a host directory)."),
  size_mb: z.number().int().nullable(),
  filesystem: z.string().nullable(),
  host_path: z.string().nullable(),
  uid: z.number().int().nullable(),
  gid: z.number().int().nullable(),
  persistent: z.boolean().describe("False for an inline volume that lives and dies with its instance."),
  attached_to: z.array(RefOutSchema).describe("The instances it is attached to."),
  mounted_by: z.array(VolumeMountSchema),
  tags: z.array(z.string()),
  delete_lock: z.boolean(),
  created_at: TimestampSchema.describe("When it was created."),
  /** The host its data lives on; absent from servers older than hosts. */
  host: z.string().describe("The host its data lives on (`GET /v1/hosts`).").optional(),
  /** Its host's state; absent from servers older than host failure. */
  host_state: HostStateSchema.describe("`offline` when its host's heartbeats stopped: `state` is then as last recorded, and every operation on it answers `409 HOST_OFFLINE`.").optional(),
  template: RefOutSchema.nullable(),
  clone: VolumeCloneInfoSchema.nullable(),
  clones: z.number().int(),
  /** Backing files under the volume's data (copy-on-write layers); flattened beyond a bound. */
  chain_depth: z.number().int().nullable(),
  error: z.string().nullable(),
});
export type Volume = z.infer<typeof VolumeSchema>;

/** `PUT /v1/volumes/{id}/attach` body. */
export const VolumeAttachRequestSchema = z.strictObject({
  attach_to: RefSchema,
  at: MountPathSchema,
  readonly: z.boolean().optional(),
});
export type VolumeAttachRequest = z.infer<typeof VolumeAttachRequestSchema>;

/** `PUT /v1/volumes/{id}/detach` body: `from` one instance, or from all when absent. */
export const VolumeDetachRequestSchema = z.strictObject({ from: RefSchema.optional() });
export type VolumeDetachRequest = z.infer<typeof VolumeDetachRequestSchema>;

/** What a clone request sets on the new volume (the body of `POST /v1/volumes/{id}/clone`). */
export const VolumeCloneFields = {
  vol_name: NameSchema.describe("Name of the new volume, unique on the server.").optional(),
  tags: TagsSchema.optional(),
  delete_lock: z.boolean().optional(),
  host: NameSchema.describe("Host to keep the clone on (`GET /v1/hosts`); default: its source's. On another host, the source's frozen layers are copied there.").optional(),
};
/** `POST /v1/volumes/{id}/clone` body: the source is the path's volume or volume template. */
export const VolumeCloneByIdRequestSchema = z.strictObject(VolumeCloneFields);
export type VolumeCloneByIdRequest = z.infer<typeof VolumeCloneByIdRequestSchema>;

/** One item of `POST /v1/volumes/clone`. */
export const VolumeCloneItemSchema = z
  .strictObject({ uuid: UuidSchema.optional(), name: NameSchema.optional(), ...VolumeCloneFields })
  .refine((r) => (r.uuid === undefined) !== (r.name === undefined), "set exactly one of 'uuid' or 'name' of the source");
export const VolumeCloneRequestSchema = oneOrMany(VolumeCloneItemSchema);
export type VolumeCloneItem = z.infer<typeof VolumeCloneItemSchema>;

/** Result item of a clone request. */
export const VolumeCloneResultSchema = z.object({
  status: z.enum(["success", "error"]),
  uuid: UuidSchema.optional(),
  name: z.string().optional(),
  state: VolumeStateSchema.optional(),
  message: z.string().optional(),
  /** A failed item's HTTP status. */
  error: z.number().int().optional(),
});

/**
 * One item of `POST /v1/volumes/templates`. `mode: "convert"` (default) turns the volume itself into
 * a template, as the reference does; `mode: "copy"` freezes its current contents into a new template
 * named `template_name` while the volume stays writable.
 */
export const VolumeTemplateItemSchema = z
  .strictObject({
    uuid: UuidSchema.optional(),
    name: NameSchema.describe("The volume to freeze, by name.").optional(),
    mode: z.enum(["convert", "copy"]).optional(),
    template_name: NameSchema.describe("Name of the new template, unique on the server.").optional(),
    tags: TagsSchema.optional(),
    delete_lock: z.boolean().optional(),
  })
  .refine((r) => (r.uuid === undefined) !== (r.name === undefined), "set exactly one of 'uuid' or 'name' of the source volume")
  .refine((r) => r.mode === "copy" || r.template_name === undefined, "'template_name' applies only with mode 'copy'");
export const VolumeTemplateRequestSchema = oneOrMany(VolumeTemplateItemSchema);
export type VolumeTemplateItem = z.infer<typeof VolumeTemplateItemSchema>;

/** One PATCH operation on a volume or volume template (a union on `prop`, then on `op`); `id` is echoed in bulk answers. */
export const VolumePatchOpSchema = z.discriminatedUnion("prop", [
  z.strictObject({ prop: z.literal("size_mb"), op: z.literal("set"), value: z.number().int().min(1).max(4 * 1024 * 1024), id: PatchIdSchema.optional() }),
  z.discriminatedUnion("op", [
    z.strictObject({ prop: z.literal("tags"), op: z.literal("set"), value: TagsSchema, id: PatchIdSchema.optional() }),
    z.strictObject({ prop: z.literal("tags"), op: z.enum(["add", "del"]), value: oneOrMany(TagSchema), id: PatchIdSchema.optional() }),
  ]),
  z.strictObject({ prop: z.literal("delete_lock"), op: z.literal("set"), value: z.boolean(), id: PatchIdSchema.optional() }),
]);
export type VolumePatchOp = z.infer<typeof VolumePatchOpSchema>;
export const VolumePatchRequestSchema = oneOrMany(VolumePatchOpSchema);
