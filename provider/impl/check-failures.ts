/**
 * Check failures built from the SDK's validation: zod issues of a request schema turned into
 * `{ property, reason }` with the API's own messages, the property named as the user wrote it.
 * Shared by every resource's `check`; the resources decide which schema and which property names.
 */
import { describeIssues } from "vmbranch/sdk";
import { isUnknown } from "./values";

/** What a request schema offers (any zod schema of the SDK); zod itself is not a provider dependency. */
export interface RequestSchema {
  safeParse(value: unknown): { success: true } | { success: false; error: Parameters<typeof describeIssues>[0] };
}

/** A check failure as the dynamic-provider host forwards it to the engine. */
export interface CheckFailure {
  property: string;
  reason: string;
}

/**
 * Validate `request` with `schema` and report each issue once, its API field path mapped to an
 * input property by `propertyOf`. The reason is the API's message verbatim.
 */
export function schemaFailures(schema: RequestSchema, request: unknown, propertyOf: (field: string) => string): CheckFailure[] {
  const parsed = schema.safeParse(request);
  if (parsed.success) return [];
  return describeIssues(parsed.error).map((i) => ({ property: propertyOf(i.field), reason: i.message }));
}

/** `failures` without repeats (same property and reason), in their first order. */
export function uniqueFailures(failures: readonly CheckFailure[]): CheckFailure[] {
  const seen = new Set<string>();
  return failures.filter((f) => {
    const key = `${f.property}\u0000${f.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A failure when `value` is given, known, and not one of `allowed`. */
export function enumFailure(property: string, value: unknown, allowed: readonly string[], isUnknown: (v: unknown) => boolean): CheckFailure[] {
  if (value === undefined || value === null || isUnknown(value)) return [];
  if (typeof value === "string" && allowed.includes(value)) return [];
  return [{ property, reason: `'${property}' must be one of ${allowed.map((a) => `'${a}'`).join(", ")}, not '${String(value)}'` }];
}

/** Failures for inputs the resource does not have (typos in JavaScript programs). */
export function unknownInputFailures(raw: Record<string, unknown>, known: readonly string[]): CheckFailure[] {
  return Object.keys(raw)
    .filter((k) => k !== "__provider" && !known.includes(k))
    .map((k) => ({ property: k, reason: `Unknown input '${k}'` }));
}

/** A failure when `triggers` is given, known, and not a list (its items may be anything, unknowns too). */
export function triggersFailures(value: unknown): CheckFailure[] {
  if (value === undefined || value === null || isUnknown(value) || Array.isArray(value)) return [];
  return [{ property: "triggers", reason: "'triggers' must be a list of values (any values; a change replaces the resource)" }];
}
