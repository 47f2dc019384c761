/**
 * The wire contract as documentation: a field's JSON Schema (zod's own output) and its
 * description (`.describe()`), for generators outside the SDK (the Pulumi package schema of
 * provider/plugin) that must not depend on zod themselves. Zod only.
 */
import { z } from "zod";

/** Any field or object schema of the wire contract. */
export type WireSchema = z.ZodType;

/** A field's JSON Schema as a request takes it (zod's draft 2020-12 output, refinements left out). */
export function wireJsonSchema(schema: WireSchema): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

/** The description a field carries (`.describe()`), looking through optional, nullable and default wrappers. */
export function wireDescription(schema: WireSchema): string | undefined {
  let s: WireSchema | undefined = schema;
  while (s) {
    if (s.description) return s.description;
    s = (s as unknown as { _zod: { def: { innerType?: WireSchema } } })._zod.def.innerType;
  }
  return undefined;
}
