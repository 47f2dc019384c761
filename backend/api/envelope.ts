/**
 * The response envelope (docs/api.md, "The envelope") and the mapping of errors onto it. The only
 * place where registry errors become HTTP statuses.
 */
import type { ApiErrorItem } from "vmbranch/sdk";
import { ApiError } from "../core/errors";

/** An item of a success answer: `status: "success"` first, unless the item says otherwise. */
function succeeded<T>(item: T): T {
  return typeof item === "object" && item !== null && !("status" in item) ? ({ status: "success", ...item } as T) : item;
}

/**
 * A success envelope carrying `items` under `kind` (always an array, even for one object). Each
 * item says `status: "success"` too, as every per-item answer of Unikraft Cloud does.
 */
export function ok<T>(kind: string, items: T[], requestId: string, startedNs: bigint, message?: string) {
  return {
    status: "success" as const,
    ...(message ? { message } : {}),
    data: { [kind]: items.map(succeeded) },
    request_id: requestId,
    op_time_us: Number((process.hrtime.bigint() - startedNs) / 1000n),
  };
}

/**
 * An envelope for a bulk request whose items succeeded or failed one by one. Each error names
 * its item as `field: "[i]"`; with `failed`, failed items also keep their place in `data`.
 */
export function bulk<T, U = T>(
  kind: string,
  results: { ok: boolean; value?: T; error?: ApiError }[],
  requestId: string,
  startedNs: bigint,
  present: (v: T) => U = (v) => v as unknown as U,
  failed?: (e: ApiError, index: number) => U,
) {
  const errors: ApiErrorItem[] = results.flatMap((r, i) => (r.ok ? [] : [{ ...item(r.error!), field: `[${i}]` }]));
  const good = results.flatMap((r, i) => (r.ok ? [succeeded(present(r.value!))] : failed ? [failed(r.error!, i)] : []));
  const status = errors.length === 0 ? "success" : errors.length === results.length ? "error" : "partial_success";
  return {
    status,
    ...(errors.length > 0 ? { message: errors.map((e) => e.message).join("; "), errors } : {}),
    data: { [kind]: good },
    request_id: requestId,
    op_time_us: Number((process.hrtime.bigint() - startedNs) / 1000n),
  };
}

/** The error item of an ApiError. */
export function item(err: ApiError): ApiErrorItem {
  return { status: err.status, code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
}

/** An error envelope; `details` adds one item per field problem (validation). */
export function failure(err: ApiError, requestId: string) {
  const errors = err.details && err.details.length > 0
    ? err.details.map((d) => ({ status: err.status, code: err.code, message: d.message, ...(d.field ? { field: d.field } : {}) }))
    : [item(err)];
  return { status: "error" as const, message: err.message, errors, request_id: requestId };
}
