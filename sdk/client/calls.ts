/**
 * Small helpers the resource modules share: call an endpoint and take the one object (or the list)
 * out of its envelope, the schemas of delete answers, and turning "uuid or name" into a reference.
 * Owns nothing else; paths and bodies stay with each resource.
 */
import { z } from "zod";
import { RefOutSchema, envelopeSchema, looksLikeUuid, type ApiErrorItem, type Ref, type RefOut } from "../schemas";
import { firstItem } from "./response-parsing";
import type { CallSpec, Transport } from "./transport";

/** An envelope schema whose `data` holds lists of `T` keyed by kind. */
type EnvelopeOf<T> = z.ZodType<{ data?: Record<string, T[]> | undefined }>;

/** Call and return `data.<kind>[0]`; a missing item is an `SdkResponseValidationError`. */
export async function callOne<T>(transport: Transport, spec: CallSpec<EnvelopeOf<T>>, kind: string): Promise<T> {
  const response = await transport.call(spec);
  return firstItem(response.data.data, kind, { method: spec.method, path: spec.path, status: response.status, requestId: response.requestId });
}

/** Call and return `data.<kind>` (empty when the server sent no data). */
export async function callMany<T>(transport: Transport, spec: CallSpec<EnvelopeOf<T>>, kind: string): Promise<T[]> {
  const response = await transport.call(spec);
  return response.data.data?.[kind] ?? [];
}

/** The answer of a bulk request: what succeeded, and the errors of the items that did not. */
export interface BulkResult<T> {
  /** "success", or "partial_success" when some items failed (all failing is an error, thrown). */
  status: "success" | "partial_success" | "error";
  items: T[];
  errors: ApiErrorItem[];
}

/**
 * Call a bulk endpoint. The server lists failed items only in the envelope's `errors`, so they are
 * returned next to the successes rather than dropped.
 */
export async function callBulk<T>(
  transport: Transport,
  spec: CallSpec<z.ZodType<{ status: BulkResult<T>["status"]; data?: Record<string, T[]> | undefined; errors?: ApiErrorItem[] | undefined }>>,
  kind: string,
): Promise<BulkResult<T>> {
  const { data } = await transport.call(spec);
  return { status: data.status, items: data.data?.[kind] ?? [], errors: data.errors ?? [] };
}

/** A failed item as bulk answers keep it in place: its reference (when it had one) and why. */
const FailedItemSchema = z.object({ status: z.literal("error"), uuid: z.string().optional(), name: z.string().optional(), message: z.string(), error: z.number().optional() });

/** The envelope of a bulk answer whose items are `item`, or failed-item placeholders. */
export function itemsEnvelopeSchema<T extends z.ZodType>(kind: string, item: T) {
  return envelopeSchema(kind, z.union([FailedItemSchema, item]));
}

/**
 * Call a bulk endpoint that keeps every item in place (failures as `{status: "error"}` placeholders):
 * the successes in `items`, the failures in `errors`. Every item failing is an error, thrown.
 */
export async function callItems<T>(transport: Transport, spec: CallSpec<z.ZodType<{ status: BulkResult<T>["status"]; data?: Record<string, unknown[]> | undefined; errors?: ApiErrorItem[] | undefined }>>, kind: string): Promise<BulkResult<T>> {
  const { data } = await transport.call(spec);
  const items = (data.data?.[kind] ?? []).filter((i) => (i as { status?: string }).status !== "error") as T[];
  return { status: data.status, items, errors: data.errors ?? [] };
}

/**
 * Delete answers are read as `{uuid, name}` items: whether the server echoes the whole object or
 * only its identity (as Unikraft Cloud does), both fit, and nothing else is promised.
 */
export const DeletedInstancesEnvelopeSchema = envelopeSchema("instances", RefOutSchema);
/** Delete answer of volumes (see `DeletedInstancesEnvelopeSchema`). */
export const DeletedVolumesEnvelopeSchema = envelopeSchema("volumes", RefOutSchema);


/** Call a DELETE and return the deleted resource's identity (undefined if the server sent none). */
export async function callDelete(transport: Transport, spec: CallSpec<EnvelopeOf<RefOut>>, kind: string): Promise<RefOut | undefined> {
  const response = await transport.call(spec);
  return response.data.data?.[kind]?.[0];
}

/**
 * A PATCH operation as callers may write it: where the API accepts one item or a list (`add`/`del`
 * of tags, ports, …), a single item is allowed too; the parsed schema types only show the list.
 */
export type PatchOpInput<Op> = Op extends { op: "add" | "del"; value: readonly (infer U)[] } ? Omit<Op, "value"> & { value: U | Op["value"] } : Op;

/** A reference from a uuid or name string (uuids are recognised by shape), or a reference as given. */
export function toRef(idOrName: string | Ref): Ref {
  if (typeof idOrName !== "string") return idOrName;
  return looksLikeUuid(idOrName) ? { uuid: idOrName } : { name: idOrName };
}
