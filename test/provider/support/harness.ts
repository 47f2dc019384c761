/**
 * Harness of the provider tests: a real `vmbranch serve` (test/helpers/backend.ts), the provider
 * connected to it the way the engine connects it (`configure` with the stack config keys), and a
 * registry of everything the tests create, torn down in reverse order (delete locks unset first),
 * so no VM or volume outlives a test file even when it fails.
 */
import type { Instance, Volume } from "vmbranch/sdk";
import * as connection from "vmbranch/provider/impl/connection";
import { isPartial, type PartialLike } from "./partial";
import { startBackend, type TestBackend } from "../../helpers/backend";

type Kind = "instance" | "volume" | "template";

/** A backend with the provider pointed at it. */
export interface ProviderHarness {
  backend: TestBackend;
  /** Remember a resource for teardown. */
  track(kind: Kind, id: string): string;
  /** Run a create and track what it made, also when it failed with a partial state. */
  created<T extends { id: string }>(kind: Kind, run: Promise<T>): Promise<T>;
  teardown(): Promise<void>;
}

/** Start a backend and configure the provider with its endpoint and token (as stack config). */
export async function startProviderHarness(opts: { allowHostPath?: string[] } = {}): Promise<ProviderHarness> {
  const backend = await startBackend(opts);
  const config: Record<string, string> = { "vmbranch:endpoint": backend.url, "vmbranch:token": backend.token };
  connection.configure({ get: (k) => config[k] });
  const tracked: { kind: Kind; id: string }[] = [];
  const track = (kind: Kind, id: string) => {
    tracked.push({ kind, id });
    return id;
  };
  return {
    backend,
    track,
    async created(kind, run) {
      try {
        const r = await run;
        track(kind, r.id);
        return r;
      } catch (err) {
        if (isPartial(err)) track(kind, (err as PartialLike).id);
        throw err;
      }
    },
    async teardown() {
      const c = backend.client;
      for (const { kind, id } of tracked.reverse()) {
        const api = kind === "instance" ? c.instances : kind === "volume" ? c.volumes : c.volumes.templates;
        try {
          await (api.update as (id: string, ops: unknown) => Promise<Instance | Volume>)(id, [{ prop: "delete_lock", op: "set", value: false }]);
          await api.delete(id);
        } catch {
          /* already gone */
        }
      }
      connection.resetConnection();
      await backend.stop();
    },
  };
}
