/**
 * Shared wire primitives: identifiers, names, tags, annotations, references and the PATCH grammar.
 * Owns only shapes and their messages; resources combine them in their own schema files.
 * Imports nothing but zod (docs/architecture.md, "Layers").
 */
import { z } from "zod";

/** A resource UUID as issued by the backend (RFC 4122, any version). */
export const UuidSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID");

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` has the shape of a UUID; names never do, so a path segment is unambiguous. */
export function looksLikeUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/**
 * Names that are path segments of the API itself (`/v1/instances/templates`, `/v1/volumes/clone`,
 * `/v1/instances/checkpoints`, the bulk reads `/v1/instances/{history,metrics,log,wait}`).
 */
export const RESERVED_NAMES = ["templates", "clone", "checkpoints", "history", "metrics", "log", "wait"] as const;

/** A resource name: 1–63 characters of [A-Za-z0-9._-], starting with a letter or digit, never a UUID or a reserved word. */
export const NameSchema = z
  .string()
  .regex(NAME_RE, "must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
  .refine((v) => !looksLikeUuid(v), "must not have the form of a UUID")
  .refine((v) => !(RESERVED_NAMES as readonly string[]).includes(v), `must not be one of the reserved names: ${RESERVED_NAMES.join(", ")}`);

/** A reference to an existing resource by exactly one of `uuid` or `name`. */
export const RefSchema = z
  .strictObject({ uuid: UuidSchema.optional(), name: NameSchema.optional() })
  .refine((r) => (r.uuid === undefined) !== (r.name === undefined), "set exactly one of 'uuid' or 'name'");
export type Ref = z.infer<typeof RefSchema>;

/** What a response says about another resource it points at. */
export const RefOutSchema = z.object({ uuid: UuidSchema, name: z.string() });
export type RefOut = z.infer<typeof RefOutSchema>;

/** Tags: at most 16, each 1–256 characters of [A-Za-z0-9-+_.:=] (Unikraft Cloud's rule). */
export const TagSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9\-+_.:=]+$/, "tags may contain only letters, digits and - + _ . : =");
export const TagsSchema = z.array(TagSchema).max(16, "at most 16 tags").describe("Tags: at most 16, each 1-256 characters of letters, digits and `-+_.:=`.");

/** Annotation keys follow Kubernetes-style keys; values are free text up to 4096 characters. */
export const AnnotationKeySchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9\-_./]*[A-Za-z0-9])?$/, "annotation keys may contain letters, digits, '-', '_', '.' and '/'");
export const AnnotationsSchema = z.record(AnnotationKeySchema, z.string().max(4096)).describe("Annotations: keys of letters, digits, `-_./`; values of free text up to 4096 characters.");

/** An ISO 8601 timestamp as the backend writes it. */
export const TimestampSchema = z.string();

/** A host's state: `online` while it heartbeats, `offline` once its heartbeats stopped. */
export const HostStateSchema = z.enum(["online", "offline"]);
export type HostState = z.infer<typeof HostStateSchema>;

/** A client-chosen id of one PATCH operation, echoed in the answer's item (Unikraft Cloud's `id`). */
export const PatchIdSchema = z.string().min(1).max(256);

/** The operations of the PATCH grammar (Unikraft Cloud): `set` replaces, `add` merges, `del` removes. */
export const PatchOpNameSchema = z.enum(["set", "add", "del"]);
export type PatchOpName = z.infer<typeof PatchOpNameSchema>;

/** Accept a single item or a list of items, always yielding a list (errors keep the item's index). */
export function oneOrMany<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(item));
}
