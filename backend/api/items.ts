/**
 * Bulk requests item by item, as Unikraft Cloud answers them: the body is a list (one object is a
 * list of one); each item is validated on its own, so a malformed item fails alone; every item
 * keeps its place in `data` — `{status: "success", …}` or `{status: "error", uuid?, name?,
 * message, error: <HTTP status>}` — and failures are also listed in `errors` with `field: "[i]"`.
 * The answer's status is 200 (201 for creates) unless every item failed: then the first error's.
 */
import type { FastifyReply } from "fastify";
import { BulkBodySchema, BulkRefSchema, describeIssues } from "vmbranch/sdk";
import type { z } from "zod";
import type { ItemResult } from "../core/bulk";
import { ApiError } from "../core/errors";
import { bulk } from "./envelope";
import { parse } from "./validate";

/** One item of a bulk body after its own validation. */
export type BulkItem<T> = ItemResult<T> & { ref: { uuid?: string; name?: string } };

function invalid(issues: z.ZodError): ApiError {
  const details = describeIssues(issues);
  return new ApiError("VALIDATION_FAILED", details.map((d) => (d.field ? `'${d.field}': ${d.message}` : d.message)).join("; ") || "The item is invalid");
}

function refOf(raw: Record<string, unknown>): { uuid?: string; name?: string } {
  const r: { uuid?: string; name?: string } = {};
  if (typeof raw.uuid === "string") r.uuid = raw.uuid;
  if (typeof raw.name === "string") r.name = raw.name;
  return r;
}

/** Split a bulk body into items validated by `schema` (a body that is not a list of objects is a 400 for the whole request). */
export function parseItems<S extends z.ZodType>(schema: S, body: unknown): BulkItem<z.output<S>>[] {
  return parse(BulkBodySchema, body ?? []).map((raw) => {
    const r = schema.safeParse(raw);
    return r.success ? { ok: true, value: r.data, ref: refOf(raw) } : { ok: false, error: invalid(r.error), ref: refOf(raw) };
  });
}

/** Split a bulk PATCH body: each item is a reference plus one operation of `op`'s grammar. */
export function parsePatchItems<S extends z.ZodType>(op: S, body: unknown): BulkItem<{ id: string; op: z.output<S> }>[] {
  return parse(BulkBodySchema, body ?? []).map((raw) => {
    const { uuid, name, ...rest } = raw;
    const ref = BulkRefSchema.safeParse({ uuid, name });
    const parsed = op.safeParse(rest);
    if (!ref.success) return { ok: false, error: invalid(ref.error), ref: refOf(raw) };
    if (!parsed.success) return { ok: false, error: invalid(parsed.error), ref: refOf(raw) };
    return { ok: true, value: { id: (ref.data.uuid ?? ref.data.name)!, op: parsed.data }, ref: refOf(raw) };
  });
}

/** One item's result: `fn` on a valid item; a registry error fails the item, anything else is thrown. */
async function runOne<I, T>(it: BulkItem<I>, fn: (value: I) => Promise<T>): Promise<BulkItem<T>> {
  if (!it.ok) return { ok: false, error: it.error, ref: it.ref };
  try {
    return { ok: true, value: await fn(it.value!), ref: it.ref };
  } catch (err) {
    if (!ApiError.is(err)) throw err;
    return { ok: false, error: err, ref: it.ref };
  }
}

/** Run `fn` on every valid item in order. */
export async function runItems<I, T>(items: BulkItem<I>[], fn: (value: I) => Promise<T>): Promise<BulkItem<T>[]> {
  const out: BulkItem<T>[] = [];
  for (const it of items) out.push(await runOne(it, fn));
  return out;
}

/** Run `fn` on every valid item at once (waits and stops, which would otherwise add up). */
export function runItemsConcurrently<I, T>(items: BulkItem<I>[], fn: (value: I) => Promise<T>): Promise<BulkItem<T>[]> {
  return Promise.all(items.map((it) => runOne(it, fn)));
}

/** The envelope of per-item results under `kind`, with the HTTP status set on `reply`. */
export function itemsReply<T>(
  reply: FastifyReply,
  kind: string,
  results: BulkItem<T>[],
  req: { id: string; startedNs: bigint },
  okStatus = 200,
  present: (v: T) => unknown = (v) => v,
) {
  const out = bulk(kind, results, req.id, req.startedNs, present, (e, i) => ({
    status: "error", ...results[i]!.ref, message: e.message, error: e.status,
  }));
  reply.code(out.status === "error" && results.length > 0 ? results.find((r) => !r.ok)!.error!.status : okStatus);
  return out;
}
