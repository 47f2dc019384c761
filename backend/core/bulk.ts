/**
 * Bulk requests (clone, volume templates, instance templates) answer item by item: each item
 * succeeds or fails on its own with a registry error, and the API reports both (partial_success).
 */
import { ApiError } from "./errors";

/** Result of one item of a bulk request. */
export interface ItemResult<T> {
  ok: boolean;
  value?: T;
  error?: ApiError;
}

/** Run `fn` on each item in order; registry errors become failed items, anything else is thrown. */
export async function perItem<I, T>(items: readonly I[], fn: (item: I) => Promise<T>): Promise<ItemResult<T>[]> {
  const out: ItemResult<T>[] = [];
  for (const item of items) {
    try {
      out.push({ ok: true, value: await fn(item) });
    } catch (err) {
      if (!ApiError.is(err)) throw err;
      out.push({ ok: false, error: err });
    }
  }
  return out;
}
