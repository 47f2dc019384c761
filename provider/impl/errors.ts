/**
 * Errors as the provider reports them to the engine. Owns the partial-state error the Node
 * dynamic-provider host understands, the "not found" test that makes deletes idempotent, and
 * messages that keep the API's own words plus what the provider was doing.
 *
 * Partial state: `@pulumi/pulumi/cmd/dynamic-provider` (v3.259) turns an error thrown by `create`
 * or `update` that carries `id` into `ErrorResourceInitFailed` with the error's `properties` and
 * `reasons`; the engine then keeps the resource in state (with init errors, so the next `up`
 * updates it) instead of forgetting it. The host does not add `__provider` to those properties,
 * and without it every later operation on the resource fails ("code must be a string"), so the
 * serialized provider is copied in here.
 */
import { isSdkError } from "vmbranch/sdk";
import { plain, providerOf } from "./values";

/** The error shape the dynamic-provider host turns into a partial create or update. */
export interface PartialStateError extends Error {
  id: string;
  properties: Record<string, unknown>;
  reasons: string[];
}

/**
 * An error recording that resource `id` exists with `outputs` but did not get where it should.
 * `inputs` are the method's inputs: their `__provider` is carried into the stored properties.
 */
export function partialStateError(message: string, id: string, outputs: object, inputs: unknown, reasons: string[] = [message]): PartialStateError {
  const err = new Error(message) as PartialStateError;
  err.id = id;
  const properties: Record<string, unknown> = plain({ ...(outputs as Record<string, unknown>) });
  const provider = providerOf(inputs);
  if (provider !== undefined) properties.__provider = provider;
  err.properties = properties;
  err.reasons = reasons;
  return err;
}

/** True for the SDK's 404 (the resource is gone, or never existed). */
export function isNotFound(err: unknown): boolean {
  return isSdkError(err) && err.status === 404;
}

/** The API's message of an SDK error (verbatim), or the error's own message. */
export function errorMessage(err: unknown): string {
  if (isSdkError(err)) {
    const more = err.errors.slice(1).map((e) => e.message);
    return [err.message, ...more].join("; ");
  }
  return err instanceof Error ? err.message : String(err);
}

/** An Error saying what failed (`doing`, e.g. "creating instance 'web'") and the API's words. */
export function failure(doing: string, err: unknown): Error {
  const wrapped = new Error(`vmbranch: ${doing} failed: ${errorMessage(err)}`);
  (wrapped as Error & { cause?: unknown }).cause = err;
  return wrapped;
}
