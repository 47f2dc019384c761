/**
 * Query strings of list and bulk-read endpoints, as Unikraft Cloud's clients send them: repeated
 * keys (`?uuid=a&uuid=b`, `?tags=x&tags=y`) as well as comma lists (`?tags=x,y`), the paging
 * parameters `count`, `from`, `order` and `sortby`, and `details`. Zod only.
 */
import { z } from "zod";

/** A query value that may repeat: always a list (absent: undefined). */
function many<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]), z.array(item).optional());
}

const BoolSchema = z.preprocess((v) => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v), z.boolean());

/** Paging order: `asc` (oldest first, the default) or `desc`; Unikraft Cloud's long names are accepted too. */
const OrderSchema = z.preprocess(
  (v) => (v === "PAGINATION_ORDER_ASC" ? "asc" : v === "PAGINATION_ORDER_DESC" ? "desc" : v),
  z.enum(["asc", "desc"]),
);
const SortBySchema = z.preprocess((v) => (v === "PAGINATION_SORT_BY_CREATE_TIME" ? "create_time" : v), z.enum(["create_time"]));

/** Identifiers a bulk read or list is limited to. */
export const IdsQueryFields = {
  uuid: many(z.string().min(1).max(64)),
  name: many(z.string().min(1).max(63)),
};

/**
 * `GET` of a list: `uuid`/`name` restrict it to those resources (an unknown one is an error item),
 * `tags` to resources carrying all of them, `details=false` answers only uuid and name,
 * `order`/`sortby` sort by creation time, `from` starts at a uuid or an ISO 8601 creation time
 * (inclusive) and `count` limits the number (0: all). Other parameters are ignored.
 */
export const ListQuerySchema = z.object({
  ...IdsQueryFields,
  tags: many(z.string().max(16 * 257)),
  details: BoolSchema.optional(),
  count: z.coerce.number().int().min(0).optional(),
  from: z.string().min(1).max(64).optional(),
  order: OrderSchema.optional(),
  sortby: SortBySchema.optional(),
});
export type ListQuery = z.infer<typeof ListQuerySchema>;

/** `GET /v1/instances/{history,metrics}`, `/v1/instances/checkpoints/history`: which instances (all when none). */
export const IdsQuerySchema = z.object(IdsQueryFields);
export type IdsQuery = z.infer<typeof IdsQuerySchema>;

/** `GET /v1/instances/wait`: instances, and per instance (or one for all) the state and timeout. */
export const BulkWaitQuerySchema = z.object({
  ...IdsQueryFields,
  state: many(z.string()),
  timeout_s: many(z.coerce.number().min(-1).max(3600)),
  timeout_ms: many(z.coerce.number().int().min(-1).max(3_600_000)),
});
export type BulkWaitQuery = z.infer<typeof BulkWaitQuerySchema>;

/** `GET /v1/instances/log`: instances, and per instance (or one for all) the offset and limit. */
export const BulkLogQuerySchema = z.object({
  ...IdsQueryFields,
  offset: many(z.coerce.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)),
  limit: many(z.coerce.number().int().min(1).max(4 * 1024 * 1024)),
});
export type BulkLogQuery = z.infer<typeof BulkLogQuerySchema>;

/** Tags of `?tags=` in either form (repeated keys or a comma list), flattened. */
export function tagsOf(q: { tags?: string[] }): string[] {
  return (q.tags ?? []).flatMap((t) => t.split(",")).map((t) => t.trim()).filter((t) => t.length > 0);
}
