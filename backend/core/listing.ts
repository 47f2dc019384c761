/**
 * List queries of every list endpoint (Unikraft Cloud's parameters): restrict to given uuids or
 * names (each unknown one is a failed item, as in bulk answers), to resources carrying all given
 * tags, sort by creation time either way, start `from` a uuid or an instant (inclusive), and
 * return at most `count`. Pure: callers pass the records of one kind and how to find one by id.
 */
import { looksLikeUuid, tagsOf, type ListQuery } from "vmbranch/sdk";
import type { ItemResult } from "./bulk";
import { ApiError } from "./errors";
import { hasAllTags } from "./lookup";

/** What listing needs of a record. */
export interface Listable {
  uuid: string;
  name: string;
  createdAt: string;
  tags: string[];
}

/** One result of a list query, with the reference it was asked by (empty for an unrestricted list). */
export type Listed<R> = ItemResult<R> & { ref: { uuid?: string; name?: string } };

/**
 * Apply `q` to `all` (records of one kind, any order). Without ids the answer is the filtered,
 * sorted, paged list; with ids, one result per id in the order given (a miss is `notFound(id)`).
 */
export function applyListQuery<R extends Listable>(all: readonly R[], q: ListQuery, notFound: (id: string) => ApiError): Listed<R>[] {
  const refs: { uuid?: string; name?: string }[] = [...(q.uuid ?? []).map((uuid) => ({ uuid })), ...(q.name ?? []).map((name) => ({ name }))];
  const tags = tagsOf(q);
  if (refs.length > 0) {
    return refs.map((ref) => {
      const rec = ref.uuid !== undefined ? all.find((r) => r.uuid === ref.uuid!.toLowerCase()) : all.find((r) => r.name === ref.name);
      return rec && hasAllTags(rec.tags, tags) ? { ok: true, value: rec, ref } : { ok: false, error: notFound((ref.uuid ?? ref.name)!), ref };
    });
  }
  const desc = q.order === "desc";
  let items = all
    .filter((r) => hasAllTags(r.tags, tags))
    .sort((a, b) => (a.createdAt === b.createdAt ? a.name.localeCompare(b.name) : a.createdAt.localeCompare(b.createdAt)));
  if (desc) items.reverse();
  if (q.from !== undefined) items = startFrom(items, q.from, desc);
  if (q.count !== undefined && q.count > 0) items = items.slice(0, q.count);
  return items.map((value) => ({ ok: true, value, ref: {} }));
}

/** Items from the one with uuid `from`, or from the creation instant `from`, on (inclusive). */
function startFrom<R extends Listable>(items: R[], from: string, desc: boolean): R[] {
  if (looksLikeUuid(from)) {
    const i = items.findIndex((r) => r.uuid === from.toLowerCase());
    if (i < 0) throw new ApiError("VALIDATION_FAILED", `'from': no listed resource has uuid '${from}'`, "from");
    return items.slice(i);
  }
  const t = Date.parse(from);
  if (Number.isNaN(t)) throw new ApiError("VALIDATION_FAILED", `'from' must be a uuid or an ISO 8601 time: '${from}'`, "from");
  return items.filter((r) => (desc ? Date.parse(r.createdAt) <= t : Date.parse(r.createdAt) >= t));
}

/** `details=false`: only identity. */
export function brief<T extends { uuid: string; name: string }>(item: T, details: boolean | undefined): T | { uuid: string; name: string } {
  return details === false ? { uuid: item.uuid, name: item.name } : item;
}
