/**
 * Validate request bodies and queries with the SDK's zod schemas; failures become a 400
 * VALIDATION_FAILED whose message names each offending field.
 */
import { describeIssues } from "vmbranch/sdk";
import type { z } from "zod";
import { ApiError } from "../core/errors";

/** Parse `value` with `schema` or throw a 400 listing every problem. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const details = describeIssues(r.error);
  const message = details.map((d) => d.message).join("; ") || "The request is invalid";
  throw new ApiError("VALIDATION_FAILED", message, details[0]?.field || undefined, details);
}
