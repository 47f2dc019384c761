/**
 * The engine's call sequence for one resource, as provider tests drive it: `check` (with the old
 * inputs), then `create`, or `diff` and `update`, passing `__provider` like the dynamic-provider
 * host does. Replacement, refresh and delete are left to the tests, which assert on each step.
 */
import type { ProviderImpl } from "vmbranch/provider/resources/provider-shell";

/** A resource as the engine keeps it: id, checked inputs, outputs. */
export interface Deployed {
  id: string;
  inputs: Record<string, unknown>;
  outs: Record<string, unknown>;
}

/** What the engine sends as `__provider` (the serialized provider text); any string will do here. */
export const PROVIDER_TEXT = "exports.handler = () => ({}); // serialized provider stands here";

/** Inputs as the engine keeps them, without the `__provider` it adds (what `read` reports back). */
export function withoutProvider<T extends object>(inputs: T): T {
  const { __provider: _provider, ...rest } = inputs as Record<string, unknown>;
  return rest as T;
}

/** `check` the new inputs against `prev`'s; throws with the failures when there are any. */
export async function checked(impl: ProviderImpl, news: Record<string, unknown>, prev?: Deployed): Promise<Record<string, unknown>> {
  const { inputs, failures } = await impl.check(prev?.inputs ?? {}, { ...news, __provider: PROVIDER_TEXT });
  if (failures.length > 0) throw new Error(`check failed: ${JSON.stringify(failures)}`);
  return { ...(inputs as Record<string, unknown>), __provider: PROVIDER_TEXT };
}

/** check + create. */
export async function createResource(impl: ProviderImpl, news: Record<string, unknown>): Promise<Deployed> {
  const inputs = await checked(impl, news);
  const { id, outs } = await impl.create(inputs);
  return { id, inputs, outs: outs as Record<string, unknown> };
}

/** check + diff + update; refuses when the diff asks for a replacement. */
export async function updateResource(impl: ProviderImpl, prev: Deployed, news: Record<string, unknown>): Promise<Deployed & { diff: Awaited<ReturnType<ProviderImpl["diff"]>> }> {
  const inputs = await checked(impl, news, prev);
  const diff = await impl.diff(prev.id, prev.outs, inputs);
  if (diff.replaces.length > 0) throw new Error(`expected an update, got a replacement of ${diff.replaces.join(", ")}`);
  const { outs } = await impl.update(prev.id, prev.outs, inputs);
  return { id: prev.id, inputs, outs: outs as Record<string, unknown>, diff };
}

/** check + diff only (what `pulumi preview` asks). */
export async function diffResource(impl: ProviderImpl, prev: Deployed, news: Record<string, unknown>) {
  const inputs = await checked(impl, news, prev);
  return impl.diff(prev.id, prev.outs, inputs);
}
