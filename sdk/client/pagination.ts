/**
 * Async iteration over list endpoints. Owns the page loop; each resource supplies a page fetcher
 * that says where the next page starts. Today the server answers every list in one page, so the
 * fetchers return no cursor; when the envelope grows one, only the fetchers change.
 */

/** One page of a list and the cursor of the next page (undefined on the last page). */
export interface Page<T> {
  items: T[];
  next: string | undefined;
}

/** Fetch the page that starts at `cursor` (undefined for the first). */
export type PageFetcher<T> = (cursor: string | undefined) => Promise<Page<T>>;

/**
 * Yield every item of every page, fetching lazily: nothing is requested until the first `next()`,
 * and a consumer that stops early (break) fetches no further pages.
 */
export async function* paginate<T>(fetchPage: PageFetcher<T>): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  const seen = new Set<string>();
  do {
    const page = await fetchPage(cursor);
    for (const item of page.items) yield item;
    cursor = page.next;
    // A server that repeats a cursor would loop forever; stop instead.
    if (cursor !== undefined) {
      if (seen.has(cursor)) return;
      seen.add(cursor);
    }
  } while (cursor !== undefined);
}

/** Collect an async iterable into an array (for callers that want everything at once). */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Filters and paging shared by every list endpoint. */
export interface ListParams {
  /** Only resources that carry every one of these tags (`?tags=a,b`, AND semantics). */
  tags?: readonly string[];
  /** Newest first instead of oldest first. */
  order?: "asc" | "desc";
  /** At most this many (0 or absent: all). */
  count?: number;
  /** Start at the resource with this uuid, or at this ISO 8601 creation time (inclusive). */
  from?: string;
}

/** `base` with the query of `params`. */
export function listPath(base: string, params: ListParams): string {
  const search = new URLSearchParams();
  if (params.tags && params.tags.length > 0) search.set("tags", params.tags.join(","));
  if (params.order) search.set("order", params.order);
  if (params.count !== undefined) search.set("count", String(params.count));
  if (params.from !== undefined) search.set("from", params.from);
  const text = search.toString();
  return text === "" ? base : `${base}?${text}`;
}

/** Page size of `iterate`. */
export const PAGE_SIZE = 100;

/**
 * A page fetcher over a list endpoint that pages with `count` and `from`: each page asks for one
 * item more than it yields, and that item's uuid is where the next page starts.
 */
export function pagesOf<T extends { uuid: string }>(list: (params: ListParams) => Promise<T[]>, params: ListParams): PageFetcher<T> {
  return async (cursor) => {
    const items = await list({ ...params, count: PAGE_SIZE + 1, ...(cursor !== undefined ? { from: cursor } : {}) });
    const more = items.length > PAGE_SIZE;
    return { items: more ? items.slice(0, PAGE_SIZE) : items, next: more ? items[PAGE_SIZE]!.uuid : undefined };
  };
}
