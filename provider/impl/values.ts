/**
 * Plain-JSON helpers every provider method uses: Pulumi's unknown placeholder (values not known
 * during preview), deep equality that ignores key order, and turning values into outputs Pulumi can
 * store (no `undefined` anywhere: protobuf's Struct throws on it). Owns no resource knowledge.
 * Loaded at run time inside the engine's provider process (docs/provider.md, "How it runs inside
 * Pulumi").
 */

/**
 * The string the engine sends for a value that is not known yet (preview), whatever type the
 * value will have. It is part of the engine's wire protocol (`UnknownStringValue` in the Go SDK,
 * `runtime.unknownValue` in @pulumi/pulumi); kept here so the provider process need not load a
 * second copy of @pulumi/pulumi.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when `value` is the engine's unknown placeholder. */
export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** True when `value` is unknown or holds an unknown anywhere inside. */
export function containsUnknown(value: unknown): boolean {
  if (isUnknown(value)) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (isRecord(value)) return Object.values(value).some(containsUnknown);
  return false;
}

/** True for a plain object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values; object key order does not matter, array order does. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * A deep copy fit for Pulumi state: object keys whose value is `undefined` are dropped, array
 * elements that are `undefined` become `null`, and keys are sorted so outputs are deterministic.
 */
export function plain<T>(value: T): T {
  return plainValue(value) as T;
}

function plainValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map(plainValue);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) if (value[k] !== undefined) out[k] = plainValue(value[k]);
    return out;
  }
  return value;
}

/**
 * A shallow copy of `record` without its keys whose value is `undefined`, in their order: a
 * request built field by field leaves out what the program did not give, so the server's schema
 * sees the field as absent rather than set.
 */
export function withoutUndefined<T extends Record<string, unknown>>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** `value`, or `null` when it is undefined (outputs never hold `undefined`). */
export function orNull<T>(value: T | undefined | null): T | null {
  return value === undefined ? null : value;
}

/** A copy of `record` with its keys sorted (annotations, env): equal maps compare and print alike. */
export function sortedRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(record).sort()) out[k] = record[k] as string;
  return out;
}

/** The serialized provider of a resource (`__provider`), to carry into partial states. */
export function providerOf(inputs: unknown): string | undefined {
  return isRecord(inputs) && typeof inputs.__provider === "string" ? inputs.__provider : undefined;
}

/** The names of the inputs a program gave (the engine's `__provider` aside), sorted. */
export function managedInputsOf(i: object): string[] {
  return Object.keys(i)
    .filter((k) => k !== "__provider" && (i as Record<string, unknown>)[k] !== undefined)
    .sort();
}
