/** What a partial-state error (provider/impl/errors.ts) looks like to a test. */
export interface PartialLike {
  id: string;
  properties: Record<string, unknown>;
  reasons: string[];
  message: string;
}

/** True for an error carrying an `id`: the dynamic-provider host records it as a partial state. */
export function isPartial(err: unknown): err is PartialLike {
  return typeof err === "object" && err !== null && typeof (err as PartialLike).id === "string";
}

/** Await `p`, expecting it to fail with a partial state; returns that error. */
export async function expectPartial(p: Promise<unknown>): Promise<PartialLike> {
  try {
    await p;
  } catch (err) {
    if (isPartial(err)) return err;
    throw err;
  }
  throw new Error("expected a partial-state error, but the call succeeded");
}
